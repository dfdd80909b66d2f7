# SPDX-License-Identifier: MIT
"""Draws a post's picture as PPM: a textured background, a few distractor
shapes and, for posts whose hidden taste says so, a red and white bullseye.
The bullseye is the pixel-only part of the taste: no tag correlates with it.

Everything is drawn with whole-row byte operations (tile repetition,
bytes.translate, slice assignment of spans) so a sample takes milliseconds in
pure Python; libvips then encodes it."""
import colorsys
import math
import random

TILE = 48
RED = bytes((215, 25, 35))
WHITE = bytes((245, 245, 240))


def _rgb(h, s, v):
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return bytes((int(r * 255), int(g * 255), int(b * 255)))


def _tile(rng):
    """A TILE×TILE texture: a base hue with waves and grain."""
    base_h = rng.random()
    s = rng.uniform(0.25, 0.7)
    fx, fy = rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.5)
    ph = rng.uniform(0, 6.28)
    grain = rng.randbytes(TILE * TILE)
    out = bytearray()
    for y in range(TILE):
        for x in range(TILE):
            wave = 0.5 + 0.5 * math.sin(fx * x + fy * y * 1.7 + ph) * math.cos(fy * x - fx * y + ph)
            v = 0.35 + 0.35 * wave + 0.25 * grain[y * TILE + x] / 255
            hue = base_h + 0.06 * wave
            out += _rgb(hue, s, min(1.0, v))
    return bytes(out)


def _brightness_tables(levels=16):
    tables = []
    for i in range(levels):
        f = 0.75 + 0.5 * i / (levels - 1)
        tables.append(bytes(min(255, int(c * f)) for c in range(256)))
    return tables


_TABLES = _brightness_tables()


def _background(rng, w, h):
    tile = _tile(rng)
    rows = [tile[r * TILE * 3:(r + 1) * TILE * 3] for r in range(TILE)]
    reps = w // TILE + 2
    wide = [row * reps for row in rows]
    direction = rng.choice([1, -1])
    out = []
    for y in range(h):
        band = y // TILE
        shift = ((band * 2654435761) >> 7) % TILE
        row = wide[y % TILE][shift * 3:(shift + w) * 3]
        t = y / max(1, h - 1)
        level = int((t if direction > 0 else 1 - t) * (len(_TABLES) - 1))
        out.append(row.translate(_TABLES[level]))
    return bytearray(b"".join(out))


def _span(buf, w, y, x0, x1, col):
    x0 = max(0, int(x0))
    x1 = min(w, int(x1))
    if x1 <= x0:
        return
    off = y * w * 3
    buf[off + x0 * 3:off + x1 * 3] = col * (x1 - x0)


def _ellipse(buf, w, h, cx, cy, rx, ry, col):
    for y in range(max(0, int(cy - ry)), min(h, int(cy + ry) + 1)):
        d = 1.0 - ((y - cy) / ry) ** 2
        if d < 0:
            continue
        dx = rx * math.sqrt(d)
        _span(buf, w, y, cx - dx, cx + dx + 1, col)


def _polygon(buf, w, h, pts, col):
    """Convex polygon by scanlines."""
    ys = [p[1] for p in pts]
    n = len(pts)
    for y in range(max(0, int(min(ys))), min(h, int(max(ys)) + 1)):
        xs = []
        for i in range(n):
            (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % n]
            if (y0 <= y < y1) or (y1 <= y < y0):
                xs.append(x0 + (y - y0) * (x1 - x0) / (y1 - y0))
        if len(xs) >= 2:
            _span(buf, w, y, min(xs), max(xs) + 1, col)


def _distractor(buf, w, h, rng, s):
    kind = rng.choice(["rect", "triangle", "ellipse", "diamond"])
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    size = rng.uniform(0.06, 0.22) * s
    # Distractors never use the bullseye's saturated red-and-white pairing.
    col = _rgb(rng.uniform(0.12, 0.92), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.95))
    a = rng.uniform(0, math.pi)
    if kind == "ellipse":
        _ellipse(buf, w, h, cx, cy, size, size * rng.uniform(0.4, 1.0), col)
        return
    k = {"rect": 4, "triangle": 3, "diamond": 4}[kind]
    stretch = 0.5 if kind == "diamond" else 1.0
    pts = []
    for i in range(k):
        t = a + 2 * math.pi * i / k
        r = size * (stretch if i % 2 else 1.0)
        pts.append((cx + r * math.cos(t), cy + r * math.sin(t)))
    _polygon(buf, w, h, pts, col)


def render_ppm(scene_seed, has_object, w, h):
    return b"P6\n%d %d\n255\n" % (w, h) + render_rgb(scene_seed, has_object, w, h)


def render_rgb(scene_seed, has_object, w, h):
    """The picture at w×h as packed RGB: the same scene at every size, so a
    post's sample, original and preview agree."""
    rng = random.Random(scene_seed)
    buf = _background(rng, w, h)
    s = min(w, h)
    for _ in range(rng.randint(3, 6)):
        _distractor(buf, w, h, rng, s)
    # Drawn inside the centred square, so a centre crop keeps it whole.
    r = rng.uniform(0.13, 0.21) * s
    ox = (w - s) / 2 + rng.uniform(r, s - r)
    oy = (h - s) / 2 + rng.uniform(r, s - r)
    if has_object:
        _ellipse(buf, w, h, ox, oy, r * 1.06, r * 1.06, bytes((30, 20, 20)))
        for i, col in enumerate((RED, WHITE, RED, WHITE, RED)):
            rr = r * (1.0 - i * 0.19)
            _ellipse(buf, w, h, ox, oy, rr, rr, col)
    return bytes(buf)


# ---- the hard world's objects (hard_world.py) ---------------------------
# Shapes that differ by outline only: every object is one flat colour drawn
# from the distractors' own distribution, at any scale, rotation and place,
# so neither colour nor position gives the class away.

def _star_pts():
    return [((1.0 if i % 2 == 0 else 0.42) * math.cos(math.pi / 2 + i * math.pi / 5),
             (1.0 if i % 2 == 0 else 0.42) * math.sin(math.pi / 2 + i * math.pi / 5))
            for i in range(10)]


def _heart_pts():
    pts = []
    for i in range(48):
        t = 2 * math.pi * i / 48
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((x / 17, -y / 17))
    return pts


def _circle_pts(cx, cy, r, n=40):
    return [(cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
            for i in range(n)]


OBJECT_SHAPES = {
    "star": [_star_pts()],
    "heart": [_heart_pts()],
    "cross": [[(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3),
               (0.3, 1), (-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)]],
    # even-odd: a disc minus an offset disc, and a disc minus a centred one
    "crescent": [_circle_pts(0, 0, 1.0), _circle_pts(0.3, 0, 0.72)],
    "ring": [_circle_pts(0, 0, 1.0), _circle_pts(0, 0, 0.55)],
    "arrow": [[(-1, -0.22), (0.25, -0.22), (0.25, -0.6), (1, 0), (0.25, 0.6),
               (0.25, 0.22), (-1, 0.22)]],
}


def _fill_evenodd(buf, w, h, contours, col):
    """Any polygons (concave, several contours) by scanlines, even-odd rule."""
    ys = [p[1] for c in contours for p in c]
    for y in range(max(0, int(min(ys))), min(h, int(max(ys)) + 1)):
        yc = y + 0.5
        xs = []
        for pts in contours:
            n = len(pts)
            for i in range(n):
                (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % n]
                if (y0 <= yc < y1) or (y1 <= yc < y0):
                    xs.append(x0 + (yc - y0) * (x1 - x0) / (y1 - y0))
        xs.sort()
        for a, b in zip(xs[0::2], xs[1::2]):
            _span(buf, w, y, a, b + 1, col)


def render_hard_rgb(scene_seed, obj, w, h):
    """The hard world's picture: background, 4–8 convex distractors and, for
    obj (a key of OBJECT_SHAPES or None), one shape somewhere in the centred
    square, 9–30 % of its side in radius, turned by any angle."""
    rng = random.Random(scene_seed)
    buf = _background(rng, w, h)
    s = min(w, h)
    for _ in range(rng.randint(4, 8)):
        _distractor(buf, w, h, rng, s)
    r = rng.uniform(0.09, 0.30) * s
    ox = (w - s) / 2 + rng.uniform(r, s - r)
    oy = (h - s) / 2 + rng.uniform(r, s - r)
    a = rng.uniform(0, 2 * math.pi)
    col = _rgb(rng.uniform(0.0, 1.0), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.95))
    flip = rng.choice([1, -1])
    if obj is not None:
        ca, sa = math.cos(a), math.sin(a)
        contours = [[(ox + r * (ca * x * flip - sa * y), oy + r * (sa * x * flip + ca * y))
                     for x, y in c] for c in OBJECT_SHAPES[obj]]
        _fill_evenodd(buf, w, h, contours, col)
    for _ in range(rng.randint(0, 2)):   # some distractors in front of it
        _distractor(buf, w, h, rng, s)
    return bytes(buf)
