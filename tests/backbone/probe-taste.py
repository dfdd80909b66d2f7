#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What the backbone's features are worth for the hard world's taste (a
measurement, not a test; issue 13). It reuses probe-hard.py's crops
($FLUFF_BUILD_DIR/probe-hard-SEED: run that first) and asks three questions:

1. --taste: how well each candidate image input predicts the user's likes on
   its own, by ridge regression (features standardised on each training fold,
   λ by leave-one-out ROC AUC on it) under pooled 5-fold CV over every history
   crop, beside the same ridge on the tags seen ≥ 2 times, and a ridge stack
   of both towers' out-of-fold scores (itself out of fold). The "image → object
   tag" route: a 6-class ridge on the posts whose tags name their object
   (about a third of those that show one), its scores out of fold for them and
   fitted on all of them for the rest, as 6 inputs to the taste.
2. --views: object recognition (probe-hard.py's ridge probe on the crops that
   show an object, chance 1/6) from several views of each crop: the full
   crop, its mirror image, four corner windows of 60 % of the side and the
   centre window (each resized to 224), pooled in different ways; block 13's
   expansion, mean-pooled.
3. Both print the true object's own worth beside, as the ceiling.

    tests/with-session.sh tests/backbone/probe-taste.py [--seed 5] [--taste] [--views] [--inception N]

4. --inception N: nsfwjs's InceptionV3 (probe-inception.js, TF.js in Node; the
   issue's first candidate), its ImageNet layers mixed2…mixed5 mean-pooled,
   against MobileNetV2 on the same N crops per class (the crops upsampled to
   299). TF.js's pure-JavaScript backend takes ~15 s of CPU per crop, so N
   stays small and the probe is coarse.

Measured (seed 5, nsfwjs 4.4.0's MobileNetV2, 916 history crops, 553 liked;
ROC AUC of pooled 5-fold CV; the three bb-tool passes take ~3 min for 916
crops on the loaded 2-core machine, ~15 min for the 4,676 views):

    taste (ROC AUC, CV)          image alone   tags + image stack
    tags alone (ridge)           —             0.632
    all four sets, mean+max,
      balanced as the head has   0.497         0.625
    b13_expand mean              0.550         0.609
    b13_expand mean+max          0.540         0.632
    b13_expand 2×2 means         0.496         0.625
    b11+b13_expand means         0.531         0.627
    b12+b13+b16 means            0.496         0.622
    b16_project mean             0.521         0.627
    final mean                   0.522         0.623
    image → object tag (b13)     0.544         0.624 (tags + its 6 scores in one ridge: 0.639)
    the true object (one-hot)    0.725         0.759

(object recognition from 230 tagged posts: 0.443 out of fold, 0.420 on the
untagged ones that show an object.) So the image carries ~0.05 AUC of taste
on its own through these features, which the stack cannot use; the true
object would carry 0.725. Recognition, not the head, is the bottleneck.

    views (recognition: ridge probe accuracy on the 668 crops that show an
    object, chance 0.167; taste: ROC AUC of pooled 5-fold CV over all 916
    history crops, tags alone 0.632; b13_expand means unless named)
                                       recognition  taste  tags + image stack
    full crop                                0.555  0.550  0.609
    full + mirror, averaged                  0.618  0.545  0.630
    4 corner windows, averaged               0.576  0.556  0.639
    4 corner windows, max                    0.542  0.527  0.617
    full, windows' max side by side          0.527  0.543  0.627
    full, windows' mean side by side         0.623  0.553  0.632
    full, centre side by side                0.525  0.535  0.631
    all 7 views averaged                     0.654  0.525  0.622
    b11+b13 full                             0.609  0.531  0.627
    b11+b13, all 7 views averaged            0.677  0.506  0.627

Averaging the pooled features over views (test-time augmentation) is the one
pooling change that helps recognition: +0.06 with the mirror image alone,
+0.10 with all seven views, +0.12 for b11+b13; side by side or max over
windows does not. It does not help the taste learnt from the likes directly
(0.525 for 7 views against 0.550), and within the 668 crops that show an
object (tags alone 0.605, the true object 0.759) only a little:

    image input                 taste alone   tags + image stack
    b13 full crop               0.539         0.592
    b13 7 views averaged        0.576         0.608
    b11+b13 7 views averaged    0.582         0.611
    object route, b13 full      0.555         0.603  (recognition 0.420 untagged)
    object route, b13 7 views   0.597         0.619  (recognition 0.486 untagged)

So view averaging is worth building only beside a recogniser that gets most
objects right: at 50 % recognition the image adds <= 0.015 to the tags, and
issue 13's image-alone 0.65 needs recognition of roughly 75 % or more (the
true object, 100 %, gives 0.725 over all history posts).

InceptionV3 (--inception 10: 60 crops, 10 per class, upsampled 224 → 299;
chance 0.167; at 60 crops a probe's standard error is about 0.06, so only a
large gap would mean anything):

    MobileNetV2 b13_expand             0.283
    MobileNetV2 b13_expand, 7 views    0.400
    MobileNetV2 b11+b13_expand         0.333
    InceptionV3 mixed2                 0.200
    InceptionV3 mixed3                 0.350
    InceptionV3 mixed4                 0.317
    InceptionV3 mixed5                 0.333
    InceptionV3 mixed4+mixed5          0.317

No large gain: InceptionV3's ImageNet layers recognise these shapes about as
well as MobileNetV2's, at ~6x the multiply-adds; not worth a C import on this
evidence (~17 s of CPU per crop in TF.js, so the probe stayed small).
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bbtest  # noqa: E402

_spec = importlib.util.spec_from_file_location("probe_hard", os.path.join(HERE, "probe-hard.py"))
probe_hard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe_hard)

BUILD = os.environ.get("FLUFF_BUILD_DIR", "build")
OBJECTS = probe_hard.OBJECTS
OBJECT_TAGS = {"star_symbol": 0, "heart_symbol": 1, "cross_symbol": 2, "crescent": 3, "ring_(object)": 4,
               "arrow_symbol": 5}
LAYERS = [("block_11_expand_relu", 576), ("block_12_add", 96), ("block_13_expand_relu", 576),
          ("block_16_project_BN", 320), ("out_relu", 1280)]
VIEWS = ["flip", "t0", "t1", "t2", "t3", "centre"]


def roc_auc(s, y):
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ss = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j + 2) / 2
        i = j + 1
    p = y.sum()
    return (ranks[y == 1].sum() - p * (p + 1) / 2) / (p * (len(y) - p))


def folds_of(y, k=5, seed=1):
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=int)
    for c in (0, 1):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def ridge_fit(a, t, lams, score):
    """Kernel ridge on a (standardised), targets t (n or n×k); λ by the
    leave-one-out score(pred) over lams. Returns the dual weights' map."""
    tm = t.mean(axis=0)
    tc = t - tm
    s, u = np.linalg.eigh(a @ a.T)
    s = np.maximum(s, 0)
    uty = u.T @ tc
    best = None
    for lam in lams:
        g = s / (s + lam)
        h = (u * u) @ g
        fit = u @ (g[:, None] * uty) if tc.ndim == 2 else u @ (g * uty)
        hh = h[:, None] if tc.ndim == 2 else h
        sc = score((fit - hh * tc) / (1 - hh) + tm)
        if best is None or sc > best[0]:
            best = (sc, lam)
    dual = u @ (uty / ((s + best[1])[:, None] if tc.ndim == 2 else (s + best[1])))
    return lambda b: b @ (a.T @ dual) + tm


def standardise(tr, te):
    mu, sd = tr.mean(axis=0), tr.std(axis=0) + 1e-6
    return (tr - mu) / sd, (te - mu) / sd


def taste_oof(x, y, fold, lams=np.logspace(-2, 4, 13), scale=True):
    out = np.zeros(len(y))
    for f in range(fold.max() + 1):
        tr, te = fold != f, fold == f
        a, b = standardise(x[tr], x[te]) if scale else (x[tr], x[te])
        fit = ridge_fit(a, y[tr] * 2.0 - 1, lams * a.shape[1] / 100, lambda p: roc_auc(p, y[tr]))
        out[te] = fit(b)
    return out


def object_scores(x, tagged_class):
    """6 scores per post: out of fold on the posts whose tag names their
    object, fitted on all of those for the others."""
    tagged = np.flatnonzero(tagged_class >= 0)
    scores = np.zeros((len(x), 6))
    sub = np.random.default_rng(2).permutation(len(tagged)) % 5

    def fit(tr, te):
        a, b = standardise(x[tr], x[te])
        ytr = tagged_class[tr]
        f = ridge_fit(a, np.eye(6)[ytr] * 2 - 1, np.logspace(-1, 5, 13) * a.shape[1] / 100,
                      lambda p: (p.argmax(axis=1) == ytr).mean())
        return f(b)

    for f in range(5):
        scores[tagged[sub == f]] = fit(tagged[sub != f], tagged[sub == f])
    rest = np.flatnonzero(tagged_class < 0)
    scores[rest] = fit(tagged, rest)
    return scores


def taste_table(dest, tool, weights):
    with open(os.path.join(dest, "taste.json")) as f:
        taste = {int(k): v for k, v in json.load(f).items()}
    ids = sorted(i for i in taste if os.path.exists(os.path.join(dest, f"{i}.jpg")))
    y = np.array([taste[i]["like"] for i in ids])
    cache = os.path.join(dest, "layers-all.npy")
    if not os.path.exists(cache):
        with tempfile.TemporaryDirectory(prefix="fluff-probe-taste-") as d:
            out = os.path.join(d, "l.f32")
            subprocess.run([tool, "layers", weights, out, ",".join(n for n, _ in LAYERS),
                            *[os.path.join(dest, f"{i}.jpg") for i in ids]], check=True, stdout=subprocess.DEVNULL)
            np.save(cache, np.fromfile(out, dtype=np.float32).reshape(len(ids), -1))
    a = np.load(cache).astype(np.float64)
    lay, off = {}, 0
    for name, c in LAYERS:
        x = a[:, off:off + 6 * c]
        off += 6 * c
        lay[name.split("_")[1] if name.startswith("block") else "final"] = (x[:, :c], x[:, c:2 * c], x[:, 2 * c:])
    count = Counter(t for i in ids for t in taste[i]["tags"])
    vocab = {t: k for k, t in enumerate(sorted(t for t, c in count.items() if c >= 2))}
    tags = np.zeros((len(ids), len(vocab)))
    tagged_class = np.full(len(ids), -1)
    for r, i in enumerate(ids):
        for t in taste[i]["tags"]:
            if t in vocab:
                tags[r, vocab[t]] = 1
            if t in OBJECT_TAGS:
                tagged_class[r] = OBJECT_TAGS[t]
    truth = np.array([OBJECTS.index(taste[i]["object"]) if taste[i]["object"] else -1 for i in ids])
    fold = folds_of(y)
    z_tags = taste_oof(tags, y, fold, scale=False)

    def stack(*cols):
        return taste_oof(np.column_stack(cols), y, fold, lams=np.array([1e-3]))

    print(f"{len(ids)} history crops, {y.sum()} liked; {len(vocab)} tags seen ≥ 2 times; "
          f"{(tagged_class >= 0).sum()} posts tagged with their object")
    print(f"{'image input':34s} {'alone':>6s} {'stack':>6s}   (tags alone {roc_auc(z_tags, y):.3f})")

    def balanced(*xs):
        return np.hstack([standardise(x, x)[0] / np.sqrt(x.shape[1]) for x in xs])

    cands = {
        "all four sets, mean+max, balanced": (balanced(*[np.hstack(lay[k][:2]) for k in ("12", "13", "16", "final")]),
                                              False),
        "b13_expand mean": (lay["13"][0], True),
        "b13_expand mean+max": (np.hstack(lay["13"][:2]), True),
        "b13_expand 2×2 means": (lay["13"][2], True),
        "b11+b13_expand means": (np.hstack([lay["11"][0], lay["13"][0]]), True),
        "b12+b13+b16 means": (np.hstack([lay["12"][0], lay["13"][0], lay["16"][0]]), True),
        "b16_project mean": (lay["16"][0], True),
        "final mean": (lay["final"][0], True),
    }
    for name, (x, scale) in cands.items():
        z = taste_oof(x, y, fold, scale=scale)
        print(f"{name:34s} {roc_auc(z, y):6.3f} {roc_auc(stack(z_tags, z), y):6.3f}", flush=True)
    s = object_scores(lay["13"][0], tagged_class)
    tg, shows = tagged_class >= 0, (tagged_class < 0) & (truth >= 0)
    z = taste_oof(s, y, fold, lams=np.logspace(-2, 3, 11))
    both = taste_oof(np.hstack([tags, s]), y, fold, scale=False)
    print(f"{'image → object tag (b13 mean)':34s} {roc_auc(z, y):6.3f} {roc_auc(stack(z_tags, z), y):6.3f}   "
          f"recognition {(s[tg].argmax(1) == tagged_class[tg]).mean():.3f} out of fold, "
          f"{(s[shows].argmax(1) == truth[shows]).mean():.3f} untagged; tags + its scores in one ridge "
          f"{roc_auc(both, y):.3f}")
    one_hot = np.eye(7)[truth + 1]
    z = taste_oof(one_hot, y, fold)
    print(f"{'the true object (one-hot)':34s} {roc_auc(z, y):6.3f} {roc_auc(stack(z_tags, z), y):6.3f}")


def views_table(dest, tool, weights):
    from PIL import Image, ImageOps
    with open(os.path.join(dest, "labels.json")) as f:
        labels = {int(k): v for k, v in json.load(f).items()}
    with open(os.path.join(dest, "taste.json")) as f:
        taste = {int(k): v for k, v in json.load(f).items()}
    ids = sorted(labels)
    cache = os.path.join(dest, "views-all.npy")
    if not os.path.exists(cache):
        with tempfile.TemporaryDirectory(prefix="fluff-probe-views-") as d:
            paths = []
            for i in ids:
                im = Image.open(os.path.join(dest, f"{i}.jpg")).convert("RGB")
                w = im.size[0]
                s = int(w * 0.6)
                views = [im] + [ImageOps.mirror(im)]
                for x, yy in [(0, 0), (w - s, 0), (0, w - s), (w - s, w - s), ((w - s) // 2, (w - s) // 2)]:
                    views.append(im.crop((x, yy, x + s, yy + s)).resize((224, 224), Image.BILINEAR))
                for k, v in enumerate(views):
                    paths.append(os.path.join(d, f"{i}-{k}.jpg"))
                    v.save(paths[-1], quality=95)
            out = os.path.join(d, "v.f32")
            subprocess.run([tool, "layers", weights, out, "block_11_expand_relu,block_13_expand_relu", *paths],
                           check=True, stdout=subprocess.DEVNULL)
            np.save(cache, np.fromfile(out, dtype=np.float32).reshape(len(ids), 7, 2, 6 * 576)[..., :576])
    v = np.load(cache).astype(np.float64)  # posts × (full, flip, t0…t3, centre) × (b11, b13) × 576 means
    b11, b13 = v[:, :, 0], v[:, :, 1]
    cands = {
        "full crop": b13[:, 0],
        "full + mirror, averaged": b13[:, :2].mean(1),
        "4 corner windows, averaged": b13[:, 2:6].mean(1),
        "4 corner windows, max": b13[:, 2:6].max(1),
        "full, windows' max side by side": np.hstack([b13[:, 0], b13[:, 2:6].max(1)]),
        "full, windows' mean side by side": np.hstack([b13[:, 0], b13[:, 2:6].mean(1)]),
        "full, centre side by side": np.hstack([b13[:, 0], b13[:, 6]]),
        "all 7 views averaged": b13.mean(1),
        "b11+b13 full": np.hstack([b11[:, 0], b13[:, 0]]),
        "b11+b13, all 7 views averaged": np.hstack([b11.mean(1), b13.mean(1)]),
    }
    obj = np.array([labels[i] is not None for i in ids])
    yo = np.array([OBJECTS.index(labels[i]) for i in ids if labels[i] is not None])
    y = np.array([taste[i]["like"] for i in ids])
    fold = folds_of(y)
    count = Counter(t for i in ids for t in taste[i]["tags"])
    vocab = {t: k for k, t in enumerate(sorted(t for t, c in count.items() if c >= 2))}
    tags = np.zeros((len(ids), len(vocab)))
    for r, i in enumerate(ids):
        for t in taste[i]["tags"]:
            if t in vocab:
                tags[r, vocab[t]] = 1
    z_tags = taste_oof(tags, y, fold, scale=False)
    print(f"{obj.sum()} of {len(ids)} crops show an object (recognition: chance {1 / 6:.3f}); taste: ROC AUC of "
          f"pooled 5-fold CV, tags alone {roc_auc(z_tags, y):.3f}; block 13 expansion means unless named")
    print(f"{'views':34s} {'recognition':>11s} {'taste':>6s} {'stack':>6s}")
    for name, x in cands.items():
        z = taste_oof(x, y, fold)
        print(f"{name:34s} {probe_hard.ridge_probe(x[obj], yo):11.3f} {roc_auc(z, y):6.3f} "
              f"{roc_auc(taste_oof(np.column_stack([z_tags, z]), y, fold, lams=np.array([1e-3])), y):6.3f}",
              flush=True)


def inception_table(dest, per_class):
    """nsfwjs's InceptionV3 up to mixed5 (probe-inception.js, TF.js in Node,
    two processes) against MobileNetV2's b13_expand on the same few crops."""
    from PIL import Image
    import random
    with open(os.path.join(dest, "labels.json")) as f:
        labels = {int(k): v for k, v in json.load(f).items()}
    cache = os.path.join(dest, f"inception-{per_class}.json")
    layers = ["mixed2", "mixed3", "mixed4", "mixed5"]
    if not os.path.exists(cache):
        rng = random.Random(4)
        ids = sorted(i for o in OBJECTS for i in rng.sample(sorted(i for i, v in labels.items() if v == o), per_class))
        mods = bbtest.node_modules()
        with tempfile.TemporaryDirectory(prefix="fluff-probe-inception-") as d:
            procs, parts = [], [ids[0::2], ids[1::2]]
            for k, part in enumerate(parts):
                with open(os.path.join(d, f"{k}.rgb"), "wb") as f:
                    for i in part:
                        im = Image.open(os.path.join(dest, f"{i}.jpg")).convert("RGB")
                        f.write(np.asarray(im.resize((299, 299), Image.BILINEAR), dtype=np.uint8).tobytes())
                procs.append(subprocess.Popen(["node", os.path.join(HERE, "probe-inception.js"),
                                               os.path.join(d, f"{k}.rgb"), os.path.join(d, f"{k}.json"),
                                               ",".join(layers)], env=dict(os.environ, NODE_PATH=mods)))
            if any(p.wait() != 0 for p in procs):
                raise SystemExit("probe-inception.js failed")
            rows = {}
            for k, part in enumerate(parts):
                with open(os.path.join(d, f"{k}.json")) as f:
                    rows.update(zip(part, json.load(f)))
        with open(cache, "w") as f:
            json.dump({"ids": ids, "layers": layers, "rows": [rows[i] for i in ids]}, f)
    with open(cache) as f:
        c = json.load(f)
    ids = c["ids"]
    y = np.array([OBJECTS.index(labels[i]) for i in ids])
    every = sorted(labels)
    v = np.load(os.path.join(dest, "views-all.npy")).astype(np.float64)[[every.index(i) for i in ids]]
    print(f"{len(ids)} crops with an object ({per_class} per class; chance {1 / 6:.3f}), the crops upsampled "
          f"224 → 299 for InceptionV3")
    cands = {"MobileNetV2 b13_expand": v[:, 0, 1], "MobileNetV2 b13_expand, 7 views": v[:, :, 1].mean(1),
             "MobileNetV2 b11+b13_expand": np.hstack([v[:, 0, 0], v[:, 0, 1]])}
    for k, name in enumerate(c["layers"]):
        cands[f"InceptionV3 {name}"] = np.array([r[k] for r in c["rows"]])
    cands["InceptionV3 mixed4+mixed5"] = np.hstack([cands["InceptionV3 mixed4"], cands["InceptionV3 mixed5"]])
    for name, x in cands.items():
        print(f"{name:34s} {probe_hard.ridge_probe(x, y):.3f} ({x.shape[1]})", flush=True)


def write_taste(seed, dest):
    """The likes and tags of the history posts, from the site (no fluffd)."""
    from fakesite import FakeSite
    with FakeSite(world="hard", seed=seed, liked=650, disliked=410, both=0, others=1100, rate_limit=0) as site:
        me = site.user_state()
        liked = set(me["favorites"]) | set(me["upvotes"])
        truth = site.truth()["posts"]
        out = {}
        for i in sorted(liked | set(me["downvotes"])):
            post = site.request("GET", f"/posts/{i}.json").json()["post"]
            out[i] = {"like": int(i in liked), "tags": [t for c in post["tags"].values() for t in c],
                      "object": truth[str(i)]["object"]}
    with open(os.path.join(dest, "taste.json"), "w") as f:
        json.dump(out, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--taste", action="store_true")
    ap.add_argument("--views", action="store_true")
    ap.add_argument("--inception", type=int, metavar="N", help="probe InceptionV3 on N crops per class")
    args = ap.parse_args()
    dest = os.path.join(BUILD, f"probe-hard-{args.seed}")
    if not os.path.exists(os.path.join(dest, "labels.json")):
        print(f"no crops in {dest}: run tests/backbone/probe-hard.py --seed {args.seed} first", file=sys.stderr)
        return 1
    if not os.path.exists(os.path.join(dest, "taste.json")):
        write_taste(args.seed, dest)
    tool = os.path.join(BUILD, "tests", "bb-tool")
    with tempfile.TemporaryDirectory(prefix="fluff-probe-taste-") as d:
        weights = os.path.join(d, "bb.safetensors")
        subprocess.run([tool, "import", bbtest.fetch_package(), weights], check=True, stdout=subprocess.DEVNULL)
        if args.taste or not (args.views or args.inception):
            taste_table(dest, tool, weights)
        if args.views or (args.inception and not os.path.exists(os.path.join(dest, "views-all.npy"))):
            views_table(dest, tool, weights)
        if args.inception:
            inception_table(dest, args.inception)
    return 0


if __name__ == "__main__":
    sys.exit(main())
