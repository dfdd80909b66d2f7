# SPDX-License-Identifier: MIT
"""The hard world (`--world hard`): data Fluff was not made for, to measure
quality against a baseline. The bullseye world (world.py) stays the default
for fast tests; it is separable by construction, this one is not.

- Pictures: a flat-coloured shape (star, heart, cross, crescent, ring,
  arrow) or none, at 9–30 % scale, any rotation and place, among convex
  distractors of the same colours (render.render_hard_rgb). Only the outline
  tells the class; the class is tagged (`heart_symbol`, …) on a third of the
  posts that show it.
- Taste: score = 1.3·pixel_part + 0.9·artist_part + 0.7·tag_part + N(0, 0.7),
  like = score > 0, and the lists carry 10 % label noise. pixel_part is the
  object's value (two loved, two hated, two neutral, none 0); artist_part is
  +1/−1 for five loved and five hated of the common artists (mean over a
  post's artists); tag_part is (loved − hated)/(loved + hated) over 0–4
  taste tags among six loved and six hated general tags.
- Drift: each post has a time t (0 oldest … 1 newest, beyond 1 for posts
  added later; ids and dates follow it). Loving stars fades with t, loving
  arrows grows with it, and the liked/disliked lists span t < 0.85 only, so
  the newest posts are judged by a taste that moved on.

The truth adds "object", "object_tagged", "artist_part" and "t"."""
import hashlib
import math

from world import RENDER_VERSION, World

HARD_LABEL_NOISE = 0.10
PIXEL_W, ARTIST_W, TAG_W, NOISE_SD = 1.3, 0.9, 0.7, 0.7
OBJECTS = ["star", "heart", "cross", "crescent", "ring", "arrow"]
OBJECT_TAGS = {"star": "star_symbol", "heart": "heart_symbol", "cross": "cross_symbol",
               "crescent": "crescent", "ring": "ring_(object)", "arrow": "arrow_symbol"}
P_NO_OBJECT = 0.25
P_OBJECT_TAGGED = 1 / 3
LABELLED_T_MAX = 0.85
N_ARTIST_TASTE = 5
N_TAG_TASTE = 6


def object_value(obj, t):
    """The object part of the taste at time t."""
    return {None: 0.0, "heart": 1.0, "star": 1.0 - t, "cross": -1.0,
            "crescent": -1.0, "ring": 0.0, "arrow": min(1.0, t)}[obj]


class HardWorld(World):
    kind = "hard"

    def __init__(self, *args, **kwargs):
        self._t = 0.0
        super().__init__(*args, **kwargs)

    def _pick_taste(self):
        super()._pick_taste()
        rng = self.rng
        # The bullseye world's taste tags stay ordinary tags here.
        self.neutral = {c: list(tags) for c, tags in self.vocab.items()}
        self.weights = {c: [1.0 / (i + 4) for i in range(len(tags))]
                        for c, tags in self.neutral.items()}
        common = self.neutral["artist"][:30]
        picked = rng.sample(common, 2 * N_ARTIST_TASTE)
        self.loved_artists = set(picked[:N_ARTIST_TASTE])
        self.hated_artists = set(picked[N_ARTIST_TASTE:])
        general = sorted(self.neutral["general"])
        picked = rng.sample(general, 2 * N_TAG_TASTE)
        self.loved = set(picked[:N_TAG_TASTE])
        self.hated = set(picked[N_TAG_TASTE:])

    def _make_post(self, rng):
        p = super()._make_post(rng)
        p.has_object = False     # no bullseye here
        p.t = self._t
        p.obj = None if rng.random() < P_NO_OBJECT else rng.choice(OBJECTS)
        tagged = p.obj is not None and rng.random() < P_OBJECT_TAGGED
        gen = set(p.tags["general"]) - set(OBJECT_TAGS.values())
        if tagged:
            gen.add(OBJECT_TAGS[p.obj])
        # Taste tags: drawn afresh, 0–4 of them, leaning with a hidden mood.
        gen -= self.loved | self.hated
        mood = rng.uniform(-1, 1)
        for _ in range(rng.randint(0, 4)):
            src = self.loved if rng.random() < (1 + mood) / 2 else self.hated
            gen.add(rng.choice(sorted(src)))
        p.tags["general"] = sorted(gen)
        p.all_tags = frozenset(t for v in p.tags.values() for t in v)

        n_loved = sum(1 for t in p.all_tags if t in self.loved)
        n_hated = sum(1 for t in p.all_tags if t in self.hated)
        tag_part = (n_loved - n_hated) / max(1, n_loved + n_hated)
        arts = p.tags["artist"]
        artist_part = sum((a in self.loved_artists) - (a in self.hated_artists)
                          for a in arts) / max(1, len(arts))
        pixel_part = object_value(p.obj, p.t)
        score = (PIXEL_W * pixel_part + ARTIST_W * artist_part + TAG_W * tag_part +
                 rng.gauss(0.0, NOISE_SD))
        p.truth = {"like": 1 if score > 0 else 0,
                   "p_like": round(1.0 / (1.0 + math.exp(-2.0 * score)), 4),
                   "pixel_part": round(pixel_part, 4),
                   "tag_part": round(tag_part, 4),
                   "artist_part": round(artist_part, 4),
                   "object": p.obj,
                   "object_tagged": tagged,
                   "t": round(p.t, 4),
                   "list": "other"}
        return p

    def _make_labelled(self, rng, want_like):
        t = self._t
        while True:
            # Rejection keeps the list's taste honest; each try its own time.
            self._t = rng.uniform(0.0, LABELLED_T_MAX) if t < 0 else t
            p = self._make_post(rng)
            observed = p.truth["like"]
            if rng.random() < HARD_LABEL_NOISE:
                observed = 1 - observed
            if observed == want_like:
                return p

    def _next_time(self, labelled):
        # Labelled posts draw theirs per try (-1), the others now.
        self._t = -1.0 if labelled else self.rng.uniform(0.0, 1.0)

    def _order(self, posts):
        posts.sort(key=lambda p: p.t)   # ids and dates follow time

    def _build(self, liked, disliked, both, others):
        super()._build(liked, disliked, both, others)
        self._t = 1.0

    def add_posts(self, count):
        with self.lock:
            ids = []
            for _ in range(count):
                self._t += 0.0005
                p = self._make_post(self.rng)
                self._assign_id(p)
                ids.append(p.id)
            return ids

    def _assign_id(self, p):
        super()._assign_id(p)
        # Another world, other pictures: never the bullseye world's md5.
        del self.by_md5[p.md5]
        p.md5 = hashlib.md5(f"fluff-fake-hard:{self.seed}:{p.id}:{RENDER_VERSION}".encode()).hexdigest()
        self.by_md5[p.md5] = p


def make_world(kind, **kwargs):
    if kind in (None, "", "bullseye"):
        return World(**kwargs)
    if kind == "hard":
        return HardWorld(**kwargs)
    raise ValueError(f"unknown world {kind!r} (bullseye, hard)")


