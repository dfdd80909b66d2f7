#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Linear probe of the backbone's feature sets (a measurement, not a test).

Two synthetic data sets, embedded with bb-tool (the C reference pass):
  shapes10(-hard)  10 classes of drawn shapes (disc, ring, square, frame, triangle,
            cross, horizontal/vertical stripes, checkerboard, diamond) in random
            colours, sizes and places over random textured backgrounds;
  fakesite  the fake e621 site's pictures (tests/fake-e621/render.py): textured
            background and distractor shapes, half with the red/white bullseye
            that carries the pixel part of the fake users' taste.
Multinomial logistic regression, 5-fold stratified CV, features standardised on
each training fold, L2 strength picked on an inner hold-out of the training fold.

    tests/backbone/probe.py WEIGHTS [--render tests/fake-e621/render.py] [--n 400]
Needs numpy (Debian python3-numpy)."""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

BUILD = os.environ.get("FLUFF_BUILD_DIR", "build")
FEATURES = [("b12_out", 96), ("b13_expand", 576), ("b16_project", 320), ("final", 1280)]
EMBED_DIM = sum(2 * c for _, c in FEATURES)
SIZE = 256


def texture(rng):
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    base = rng.uniform(40, 200, 3)
    f = rng.uniform(0.02, 0.3, 4)
    wave = np.sin(f[0] * x + f[1] * y + rng.uniform(0, 6)) * np.cos(f[2] * x - f[3] * y)
    img = base[None, None, :] + 45 * wave[..., None] * rng.uniform(-1, 1, 3)[None, None, :]
    img += rng.normal(0, 18, (SIZE, SIZE, 3))
    return img


def shape_mask(cls, rng, rmin=35, rmax=80):
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    r = rng.uniform(rmin, rmax)
    cx, cy = rng.uniform(r + 5, SIZE - r - 5, 2)
    dx, dy = x - cx, y - cy
    inside_box = (abs(dx) < r) & (abs(dy) < r)
    if cls == 0:
        return dx * dx + dy * dy < r * r
    if cls == 1:
        d = np.sqrt(dx * dx + dy * dy)
        return (d < r) & (d > 0.6 * r)
    if cls == 2:
        return inside_box
    if cls == 3:
        return inside_box & ~((abs(dx) < 0.6 * r) & (abs(dy) < 0.6 * r))
    if cls == 4:
        return (dy < r) & (dy > -r) & (abs(dx) < (dy + r) / 2)
    if cls == 5:
        return inside_box & ((abs(dx) < 0.25 * r) | (abs(dy) < 0.25 * r))
    if cls == 6:
        return inside_box & ((np.floor(dy / (0.4 * r)) % 2) == 0)
    if cls == 7:
        return inside_box & ((np.floor(dx / (0.4 * r)) % 2) == 0)
    if cls == 8:
        return inside_box & (((np.floor(dx / (0.5 * r)) + np.floor(dy / (0.5 * r))) % 2) == 0)
    return abs(dx) + abs(dy) < r


def write_ppm(path, img):
    img = np.clip(img, 0, 255).astype(np.uint8)
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + img.tobytes())


def make_shapes(d, n, hard):
    """hard: small shapes (radius 14-32 px of 256), three distractor blobs and
    colours drawn near the background's, so the class is a small local pattern."""
    rng = np.random.default_rng(7 + hard)
    paths, labels = [], []
    for i in range(n):
        cls = i % 10
        img = texture(rng)
        if hard:
            for _ in range(3):
                img[shape_mask(rng.choice([0, 2]), rng, 8, 22)] = rng.uniform(0, 255, 3)
            col = img.mean(axis=(0, 1)) + rng.choice([-1, 1], 3) * rng.uniform(40, 90, 3)
            img[shape_mask(cls, rng, 14, 32)] = col
        else:
            img[shape_mask(cls, rng)] = rng.uniform(0, 255, 3)
        p = os.path.join(d, f"shape{int(hard)}-{i:04d}.ppm")
        write_ppm(p, img)
        paths.append(p)
        labels.append(cls)
    return paths, np.array(labels)


def make_fakesite(d, n, render_path):
    spec = importlib.util.spec_from_file_location("render", render_path)
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    paths, labels = [], []
    for i in range(n):
        has = i % 2
        p = os.path.join(d, f"fake-{i:04d}.ppm")
        with open(p, "wb") as f:
            f.write(render.render_ppm(1000 + i, bool(has), 448, 448))
        paths.append(p)
        labels.append(has)
    return paths, np.array(labels)


def embed(weights, paths, d):
    out = os.path.join(d, "emb.f32")
    subprocess.run([os.path.join(BUILD, "tests", "bb-tool"), "embed", weights, out, *paths], check=True)
    a = np.fromfile(out, dtype=np.float32).reshape(len(paths), EMBED_DIM + 5)
    return a[:, :EMBED_DIM], a[:, EMBED_DIM:]


def raw_pixels(paths):
    """Centre square, 32×32 block means."""
    feats = []
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        hdr = data.split(b"\n", 3)
        w, h = map(int, hdr[1].split())
        img = np.frombuffer(hdr[3], dtype=np.uint8).reshape(h, w, 3).astype(np.float32)
        s = min(w, h)
        img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        k = s // 32
        feats.append(img[:k * 32, :k * 32].reshape(32, k, 32, k, 3).mean(axis=(1, 3)).ravel())
    return np.array(feats)


def fit_softmax(x, y, k, lam, iters=300):
    n, d = x.shape
    w = np.zeros((d, k))
    b = np.zeros(k)
    onehot = np.eye(k)[y]
    m_w, v_w, m_b, v_b = 0, 0, 0, 0
    lr = 0.05
    for t in range(1, iters + 1):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n
        gw = x.T @ g + lam * w
        gb = g.sum(axis=0)
        m_w = 0.9 * m_w + 0.1 * gw
        v_w = 0.999 * v_w + 0.001 * gw * gw
        m_b = 0.9 * m_b + 0.1 * gb
        v_b = 0.999 * v_b + 0.001 * gb * gb
        w -= lr * (m_w / (1 - 0.9 ** t)) / (np.sqrt(v_w / (1 - 0.999 ** t)) + 1e-8)
        b -= lr * (m_b / (1 - 0.9 ** t)) / (np.sqrt(v_b / (1 - 0.999 ** t)) + 1e-8)
    return w, b


def standardise(tr, te):
    mu, sd = tr.mean(axis=0), tr.std(axis=0) + 1e-6
    return (tr - mu) / sd, (te - mu) / sd


def probe(x, y, folds=5, seed=0):
    k = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=int)
    for c in range(k):  # stratified
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    correct = 0
    for f in range(folds):
        tr, te = fold != f, fold == f
        xtr, ytr = x[tr], y[tr]
        # L2 strength from an inner hold-out of the training fold
        inner = rng.random(len(ytr)) < 0.2
        best = None
        for lam in (1e-4, 1e-3, 1e-2, 1e-1):
            a, bb = standardise(xtr[~inner], xtr[inner])
            w, b = fit_softmax(a, ytr[~inner], k, lam)
            acc = ((bb @ w + b).argmax(axis=1) == ytr[inner]).mean()
            if best is None or acc > best[0]:
                best = (acc, lam)
        a, bb = standardise(xtr, x[te])
        w, b = fit_softmax(a, ytr, k, best[1])
        correct += ((bb @ w + b).argmax(axis=1) == y[te]).sum()
    return correct / len(y)


def report(name, emb, probs, pix, y):
    print(f"\n{name}: {len(y)} images, {int(y.max()) + 1} classes, chance {1 / (int(y.max()) + 1):.2f}")
    off = 0
    sets = {}
    for fname, c in FEATURES:
        sets[fname] = emb[:, off:off + 2 * c]
        off += 2 * c
    rows = []
    for fname, c in FEATURES:
        rows.append((f"{fname} mean+max ({2 * c})", sets[fname]))
        rows.append((f"{fname} mean ({c})", sets[fname][:, :c]))
    rows.append((f"all sets mean+max ({EMBED_DIM})", emb))
    rows.append(("5 class probabilities", probs))
    rows.append(("raw 32x32 pixels (3072)", pix))
    for label, x in rows:
        print(f"  {label:32s} {probe(x, y):.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--render", default=os.path.join(os.path.dirname(__file__), "..", "fake-e621", "render.py"))
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--sets", nargs="*", default=["shapes10-hard", "shapes10", "fakesite"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fluff-probe-") as d:
        for hard in [s for s in args.sets if s.startswith("shapes10")]:
            paths, y = make_shapes(d, args.n, hard == "shapes10-hard")
            emb, probs = embed(args.weights, paths, d)
            report(hard, emb, probs, raw_pixels(paths), y)
        if "fakesite" in args.sets and os.path.exists(args.render):
            paths, y = make_fakesite(d, args.n, args.render)
            emb, probs = embed(args.weights, paths, d)
            report("fakesite (bullseye or not)", emb, probs, raw_pixels(paths), y)
        elif "fakesite" in args.sets:
            print(f"\nfakesite: skipped, no {args.render} (merge the fake-site branch or pass --render)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
