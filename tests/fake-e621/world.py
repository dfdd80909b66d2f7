# SPDX-License-Identifier: MIT
"""The generated world: posts with tags, sizes and a hidden taste, the user's
favourites, votes and blacklist. Everything comes from one seed, so a run is
reproducible and the image cache stays valid across runs."""
import datetime
import hashlib
import math
import random
import threading

from vocab import build_vocab

# Bumped whenever rendering changes: it is part of every md5, so a stale
# image cache can never serve an old picture under a new post.
RENDER_VERSION = 1

LABEL_NOISE = 0.07
PIXEL_WEIGHT = 1.0
TAG_WEIGHT = 1.5
TASTE_NOISE = 0.25
N_TASTE = 8           # loved tags, and as many hated ones
TASTE_PER_POST = (4, 7)

BLACKLIST = """# things I never want to see
tagme

watermark -signature
~shark ~fish   # nothing from the sea
rating:e score:<0
pixel_(artwork) rating:q
"""


class Post:
    __slots__ = ("id", "created_at", "width", "height", "ext", "size",
                 "md5", "rating", "tags", "all_tags", "base_up",
                 "base_down", "base_favs", "deleted", "pending",
                 "flagged", "login_only", "scene_seed", "has_object",
                 "truth", "uploader_id", "obj", "t")

    @property
    def has_sample(self):
        return self.ext not in ("gif", "swf") and self.width > 850

    def sample_size(self):
        if not self.has_sample:
            return self.width, self.height
        return 850, max(1, int(self.height * 850 / self.width))

    def preview_size(self):
        scale = min(1.0, 150 / max(self.width, self.height))
        return (max(1, int(self.width * scale)),
                max(1, int(self.height * scale)))


class User:
    def __init__(self, uid, name, api_key=None, blacklist=""):
        self.id = uid
        self.name = name
        self.api_key = api_key
        self.blacklist = blacklist
        self.favorites = set()
        self.votes = {}          # post id -> 1 | -1
        self.private_favorites = False
        self.created_at = "2019-04-01T10:00:00.000-04:00"


def _iso(dt):
    s = dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"
    off = dt.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    mins = abs(mins)
    return s + f"{sign}{mins // 60:02d}:{mins % 60:02d}"


def iso_created(post):
    return _iso(post.created_at)


class World:
    def __init__(self, seed=1, user="fluffy_tester", api_key=None,
                 liked=60, disliked=60, both=4, others=200):
        self.seed = seed
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.vocab = build_vocab(random.Random(seed * 7919 + 1))
        if api_key is None:
            api_key = hashlib.sha256(f"fluff-fake-{seed}".encode()).hexdigest()[:24]
        self.user = User(424242, user, api_key, BLACKLIST)
        self.other_users = {}
        self.posts = {}          # id -> Post
        self.overrides = {}      # id -> {"tags": {cat: [..]}, "url": str}: hostile posts (tests)
        self.by_md5 = {}
        self.next_id = 3000000 + self.rng.randint(0, 99999)
        self.clock = datetime.datetime(2021, 1, 3, 8, 0, 0,
                                       tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
        self._pick_taste()
        self._build(liked, disliked, both, others)

    # ---- taste -------------------------------------------------------
    def _pick_taste(self):
        pool = self.vocab["general"] + self.vocab["species"]
        pool = sorted(pool)
        self.rng.shuffle(pool)
        self.loved = set(pool[:N_TASTE])
        self.hated = set(pool[N_TASTE:2 * N_TASTE])
        taste = self.loved | self.hated
        self.neutral = {c: [t for t in tags if t not in taste]
                        for c, tags in self.vocab.items()}
        # Popularity: a few tags are common, most are rare (Zipf).
        self.weights = {c: [1.0 / (i + 4) for i in range(len(tags))]
                        for c, tags in self.neutral.items()}

    def _taste_tags(self, rng):
        t = rng.uniform(-1.0, 1.0)
        n = rng.randint(*TASTE_PER_POST)
        loved = sorted(self.loved)
        hated = sorted(self.hated)
        chosen = set()
        for _ in range(n):
            src = loved if rng.random() < (1 + t) / 2 else hated
            chosen.add(rng.choice(src))
        return chosen

    def _pick(self, rng, cat, k):
        tags = self.neutral[cat]
        k = min(k, len(tags))
        out = set()
        while len(out) < k:
            out.add(rng.choices(tags, weights=self.weights[cat])[0])
        return out

    def _make_post(self, rng):
        p = Post()
        p.has_object = rng.random() < 0.5
        p.scene_seed = rng.getrandbits(48)
        r = rng.random()
        p.ext = ("jpg" if r < 0.70 else "png" if r < 0.88 else
                 "gif" if r < 0.93 else "webm" if r < 0.98 else "swf")
        aspect = rng.choice([rng.uniform(1.2, 1.8), rng.uniform(0.55, 0.85), 1.0,
                             rng.uniform(0.7, 1.4)])
        if p.ext == "gif" or rng.random() < 0.05:
            w = rng.randint(400, 850)
        else:
            w = rng.randint(1000, 2400)
        h = int(w / aspect)
        if h > 3000:
            w, h = int(w * 3000 / h), 3000
        p.width, p.height = w, max(h, 200)
        p.rating = rng.choices("sqe", weights=[45, 30, 25])[0]

        taste = self._taste_tags(rng)
        tags = {c: set() for c in self.vocab}
        for t in taste:
            tags["species" if t in self.vocab["species"] else "general"].add(t)
        total = rng.randint(20, 40)
        tags["artist"] |= self._pick(rng, "artist", rng.choice([1, 1, 1, 2]))
        tags["character"] |= self._pick(rng, "character", rng.choice([0, 0, 1, 1, 2]))
        if rng.random() < 0.5:
            tags["copyright"] |= self._pick(rng, "copyright", 1)
        tags["species"] |= self._pick(rng, "species", rng.randint(1, 3))
        tags["meta"] |= self._pick(rng, "meta", rng.randint(1, 3))
        if rng.random() < 0.3:
            tags["lore"] |= self._pick(rng, "lore", 1)
        if rng.random() < 0.03:
            tags["contributor"] |= self._pick(rng, "contributor", 1)
        if rng.random() < 0.03:
            tags["invalid"] |= self._pick(rng, "invalid", 1)
        have = sum(len(v) for v in tags.values())
        tags["general"] |= self._pick(rng, "general", max(0, total - have))
        p.tags = {c: sorted(v) for c, v in tags.items()}
        self._set_ext(p, p.ext)

        n_loved = sum(1 for t in p.all_tags if t in self.loved)
        n_hated = sum(1 for t in p.all_tags if t in self.hated)
        tag_part = (n_loved - n_hated) / max(1, n_loved + n_hated)
        pixel_part = 1.0 if p.has_object else -1.0
        score = (PIXEL_WEIGHT * pixel_part + TAG_WEIGHT * tag_part +
                 rng.gauss(0.0, TASTE_NOISE))
        p.truth = {"like": 1 if score > 0 else 0,
                   "p_like": round(1.0 / (1.0 + math.exp(-3.0 * score)), 4),
                   "pixel_part": pixel_part,
                   "tag_part": round(tag_part, 4),
                   "list": "other"}
        # A tenth are unpopular, so score:<0 blacklist rules have work to do.
        p.base_up = rng.randint(0, 12) if rng.random() < 0.1 else rng.randint(0, 400)
        p.base_down = rng.randint(0, 30)
        p.base_favs = rng.randint(0, 600)
        p.deleted = rng.random() < 0.03
        p.login_only = not p.deleted and rng.random() < 0.03
        p.pending = rng.random() < 0.02
        p.flagged = rng.random() < 0.01
        p.uploader_id = rng.randint(1000, 900000)
        return p

    @staticmethod
    def _set_ext(p, ext):
        meta = set(p.tags["meta"]) - {"animated", "animated_gif", "webm", "flash"}
        if ext in ("gif", "webm", "swf"):
            meta |= {"animated", {"gif": "animated_gif", "webm": "webm", "swf": "flash"}[ext]}
        if ext == "gif" and p.width > 850:
            p.width, p.height = 850, max(200, p.height * 850 // p.width)
        p.ext = ext
        p.tags["meta"] = sorted(meta)
        p.all_tags = frozenset(t for v in p.tags.values() for t in v)

    def _ensure_variety(self, posts):
        """Even a small world has each kind of awkward post that sync must
        skip or handle, in the lists and among the others."""
        rng = self.rng
        for kind in ("liked", "disliked", "other"):
            group = [p for p in posts if p.truth["list"] == kind]
            if len(group) < 8:
                continue
            picks = rng.sample(group, 8)
            if not any(p.deleted for p in group):
                picks[0].deleted, picks[0].login_only = True, False
            if not any(p.login_only for p in group):
                picks[1].login_only, picks[1].deleted = True, False
            for p, ext in zip(picks[2:5], ("gif", "webm", "swf")):
                if not any(q.ext == ext for q in group):
                    self._set_ext(p, ext)
            if not any(not p.has_sample and p.ext in ("jpg", "png") for p in group):
                p = picks[5]
                if p.ext not in ("jpg", "png"):
                    self._set_ext(p, "jpg")
                p.width, p.height = 640, max(200, p.height * 640 // p.width)
            if not any(p.ext == "png" for p in group):
                self._set_ext(picks[6], "png")

    def _make_labelled(self, rng, want_like):
        # Rejection sampling keeps each list's taste distribution
        # honest; the observed label is flipped with LABEL_NOISE.
        while True:
            p = self._make_post(rng)
            observed = p.truth["like"]
            if rng.random() < LABEL_NOISE:
                observed = 1 - observed
            if observed == want_like:
                return p

    def _assign_id(self, p):
        p.id = self.next_id
        self.next_id += self.rng.randint(1, 37)
        self.clock += datetime.timedelta(seconds=self.rng.randint(60, 20000))
        p.created_at = self.clock
        p.md5 = hashlib.md5(f"fluff-fake:{self.seed}:{p.id}:{RENDER_VERSION}".encode()).hexdigest()
        if p.ext in ("webm", "swf"):
            p.size = self.rng.randint(150_000, 600_000)
        else:
            per_px = {"jpg": 0.5, "png": 0.5, "gif": 0.6}[p.ext]
            p.size = int(p.width * p.height * per_px)
        self.posts[p.id] = p
        self.by_md5[p.md5] = p

    def _build(self, liked, disliked, both, others):
        rng = self.rng
        posts = []
        for _ in range(liked):
            self._next_time(True)
            p = self._make_labelled(rng, 1)
            p.truth["list"] = "liked"
            posts.append(p)
        for _ in range(disliked):
            self._next_time(True)
            p = self._make_labelled(rng, 0)
            p.truth["list"] = "disliked"
            posts.append(p)
        for _ in range(both):
            self._next_time(False)
            p = self._make_post(rng)
            p.truth["list"] = "both"
            posts.append(p)
        for _ in range(others):
            self._next_time(False)
            posts.append(self._make_post(rng))
        self._ensure_variety(posts)
        self._order(posts)
        for p in posts:
            self._assign_id(p)
        u = self.user
        for p in posts:
            kind = p.truth["list"]
            if kind == "liked":
                r = rng.random()
                if r < 0.75:
                    u.favorites.add(p.id)
                if r >= 0.6:
                    u.votes[p.id] = 1
            elif kind == "disliked":
                u.votes[p.id] = -1
            elif kind == "both":
                u.favorites.add(p.id)
                u.votes[p.id] = -1
        # Someone else with public favourites, so fav:<other> is real.
        other = User(1337, "other_watcher")
        ids = sorted(self.posts)
        other.favorites = set(rng.sample(ids, min(25, len(ids))))
        self.other_users[other.name] = other
        private = User(1338, "private_pat")
        private.favorites = set(rng.sample(ids, min(10, len(ids))))
        private.private_favorites = True
        self.other_users[private.name] = private

    # Hooks for hard_world.py: a post's time, and the order ids follow.
    def _next_time(self, labelled):
        pass

    def _order(self, posts):
        self.rng.shuffle(posts)

    # ---- queries used by the handlers --------------------------------
    def find_user(self, name_or_id):
        key = str(name_or_id).lower()
        for u in [self.user, *self.other_users.values()]:
            if u.name.lower() == key or str(u.id) == key:
                return u
        return None

    def add_posts(self, count):
        with self.lock:
            ids = []
            for _ in range(count):
                p = self._make_post(self.rng)
                self._assign_id(p)
                ids.append(p.id)
            return ids

    def add_voted_posts(self, count):
        """New posts (newest ids) the user voted on as their taste says:
        an upvote for a like, a downvote for a dislike. (extra)"""
        with self.lock:
            ids = []
            for _ in range(count):
                p = self._make_post(self.rng)
                self._assign_id(p)
                self.user.votes[p.id] = 1 if p.truth["like"] else -1
                ids.append(p.id)
            return ids

    def flip_labels(self, fraction, seed=0):
        """Turns a share of the user's labelled posts into their opposite:
        a liked post loses its favourite and gets a downvote, a disliked one
        an upvote. A deliberately worse dataset. (extra)"""
        import random
        with self.lock:
            u = self.user
            labelled = sorted(set(u.favorites) | set(u.votes))
            rng = random.Random(seed)
            flipped = sorted(rng.sample(labelled, int(round(len(labelled) * fraction))))
            for i in flipped:
                liked = i in u.favorites or u.votes.get(i) == 1
                u.favorites.discard(i)
                u.votes[i] = -1 if liked else 1
            return flipped

    def score_of(self, p):
        v = self.user.votes.get(p.id, 0)
        up = p.base_up + (1 if v == 1 else 0)
        down = p.base_down + (1 if v == -1 else 0)
        return up, -down

    def fav_count(self, p):
        return p.base_favs + (1 if p.id in self.user.favorites else 0)

    def truth(self):
        with self.lock:
            return {str(i): dict(p.truth) for i, p in self.posts.items()}

    def user_state(self):
        with self.lock:
            u = self.user
            listed = set(u.favorites) | set(u.votes)
            return {"name": u.name,
                    "favorites": sorted(u.favorites),
                    "upvotes": sorted(i for i, v in u.votes.items() if v == 1),
                    "downvotes": sorted(i for i, v in u.votes.items() if v == -1),
                    # Searches leave these out unless the query has status:
                    "deleted": sorted(i for i in listed if self.posts[i].deleted)}
