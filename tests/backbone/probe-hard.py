#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Linear probe of backbone layers on the hard world's objects (a
measurement, not a test; issue 13).

fluffd syncs the hard world's history (`--world hard`, the fixture of
tests/integration/test-quality-hard.py) and keeps its square crops at
image_size 224; each crop of a post that shows an object is run through the
C reference pass (bb-tool layers), and every named layer is pooled: mean,
max, and the four quadrant means (2×2). A linear probe predicts the object
(6 classes, chance 1/6) from each: one-vs-rest ridge regression on features
standardised on each training fold, 5-fold stratified CV, λ chosen on each
training fold by its leave-one-out accuracy (closed form), the class the
highest output. (Ridge rather than probe.py's softmax: it is closed form,
so 80 layer × pooling cells take minutes, not hours, at thousands of dims.)

    tests/with-session.sh tests/backbone/probe-hard.py [--seed 5] [--layers a,b,...]

The crops and labels are kept in $FLUFF_BUILD_DIR/probe-hard-SEED, so a second
run skips the sync. Needs numpy (Debian python3-numpy).

Measured (seed 5, 668 history crops that show an object, 89–130 per class,
nsfwjs 4.4.0's MobileNetV2; accuracy, chance 0.167):

    layer                 h×w×c      mean   max    mean+max  2×2 mean
    block_2_add           56×56×24   0.207  0.249  0.262     0.186
    block_4_add           28×28×32   0.204  0.205  0.214     0.213
    block_5_add           28×28×32   0.211  0.216  0.240     0.196
    block_6_expand_relu   28×28×192  0.407  0.323  0.376     0.302
    block_6_project_BN    14×14×64   0.293  0.257  0.320     0.250
    block_7_add           14×14×64   0.349  0.317  0.376     0.259
    block_8_add           14×14×64   0.322  0.310  0.338     0.250
    block_9_expand_relu   14×14×384  0.451  0.416  0.440     0.341
    block_9_add           14×14×64   0.338  0.347  0.373     0.287
    block_10_expand_relu  14×14×384  0.501  0.427  0.446     0.332
    block_10_project_BN   14×14×96   0.446  0.403  0.422     0.407
    block_11_expand_relu  14×14×576  0.539  0.515  0.457     0.404
    block_12_add (b12_out)      14×14×96   0.457  0.400  0.494  0.424
    block_13_expand_relu (b13_expand) 14×14×576 0.555 0.427 0.467 0.449
    block_16_project_BN (b16_project) 7×7×320   0.510 0.400 0.463 0.419
    out_relu (final)      7×7×1280   0.298  0.272  0.311     0.331

Layers together (--combos, their means): block_11_expand + block_13_expand
0.609 (1152 dims), + block_10_expand 0.590, block_13_expand + block_16_project
0.557; all four embedded sets, mean+max as the head gets them, 0.457 (4544).
The object is there from block 9 on and best at block 13's expansion, which
the embedding already keeps (b13_expand); no lower (ImageNet-only) layer
probes better, and "final", tuned to nsfwjs's classes, probes worst."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bbtest  # noqa: E402

BUILD = os.environ.get("FLUFF_BUILD_DIR", "build")
OBJECTS = ["star", "heart", "cross", "crescent", "ring", "arrow"]
LAYERS = "block_2_add,block_4_add,block_5_add,block_6_expand_relu,block_6_project_BN,block_7_add,block_8_add,block_9_expand_relu,block_9_add,block_10_expand_relu,block_10_project_BN,block_11_expand_relu,block_12_add,block_13_expand_relu,block_16_project_BN,out_relu".split(",")


def ridge_probe(x, y, folds=5, seed=0):
    k = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=int)
    for c in range(k):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    correct = 0
    x = x.astype(np.float64)
    for f in range(folds):
        tr, te = fold != f, fold == f
        mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-6
        a, b = (x[tr] - mu) / sd, (x[te] - mu) / sd
        t = np.eye(k)[y[tr]] * 2 - 1
        t_mean = t.mean(axis=0)
        tc = t - t_mean
        kern = a @ a.T
        s, u = np.linalg.eigh(kern)
        s = np.maximum(s, 0)
        uty = u.T @ tc
        best = None
        for lam in np.logspace(-1, 5, 13) * a.shape[1] / 100:
            g = s / (s + lam)
            fit = u @ (g[:, None] * uty)
            h = (u * u) @ g
            loo = (fit - h[:, None] * tc) / (1 - h[:, None]) + t_mean
            acc = (loo.argmax(axis=1) == y[tr]).mean()
            if best is None or acc > best[0]:
                best = (acc, lam)
        alpha = u @ (uty / (s + best[1])[:, None])
        pred = b @ (a.T @ alpha) + t_mean
        correct += (pred.argmax(axis=1) == y[te]).sum()
    return correct / len(y)


def sync_crops(seed, dest):
    from fakesite import FakeSite
    from fluffd import Fluffd, fresh_state, site_cache_dir
    fresh_state()
    with FakeSite(world="hard", seed=seed, liked=650, disliked=410, both=0, others=1100, rate_limit=0,
                  pregenerate=2, data_dir=site_cache_dir(f"hard-{seed}")) as site, \
            Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
        assert d.login(site.user, site.api_key).returncode == 0
        t = time.monotonic()
        assert d.ctl("sync", timeout=3600).returncode == 0
        print(f"sync: {time.monotonic() - t:.0f}s", file=sys.stderr)
        truth = site.truth()["posts"]
        me = site.user_state()
        ids = sorted(set(me["favorites"]) | set(me["upvotes"]) | set(me["downvotes"]))
        images = os.path.join(os.environ["XDG_DATA_HOME"], "fluff", "images")
        os.makedirs(dest, exist_ok=True)
        labels = {}
        for i in ids:
            post = site.request("GET", f"/posts/{i}.json").json()["post"]
            src = os.path.join(images, post["file"]["md5"] + ".jpg")
            if os.path.exists(src):
                shutil.copy(src, os.path.join(dest, f"{i}.jpg"))
                labels[i] = truth[str(i)]["object"]
        with open(os.path.join(dest, "labels.json"), "w") as f:
            json.dump(labels, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--layers", default=",".join(LAYERS))
    ap.add_argument("--weights", help="an imported backbone (default: import the package)")
    ap.add_argument("--combos", default="block_10_expand_relu+block_11_expand_relu+block_13_expand_relu,"
                    "block_11_expand_relu+block_13_expand_relu,block_13_expand_relu+block_16_project_BN,"
                    "block_12_add+block_13_expand_relu+block_16_project_BN+out_relu",
                    help="layers probed together (their means), comma-separated groups of a+b")
    args = ap.parse_args()
    dest = os.path.join(BUILD, f"probe-hard-{args.seed}")
    if not os.path.exists(os.path.join(dest, "labels.json")):
        sync_crops(args.seed, dest)
    with open(os.path.join(dest, "labels.json")) as f:
        labels = {int(k): v for k, v in json.load(f).items()}
    ids = sorted(i for i, o in labels.items() if o is not None)
    y = np.array([OBJECTS.index(labels[i]) for i in ids])
    paths = [os.path.join(dest, f"{i}.jpg") for i in ids]
    tool = os.path.join(BUILD, "tests", "bb-tool")
    with tempfile.TemporaryDirectory(prefix="fluff-probe-hard-") as d:
        weights = args.weights
        if not weights:
            weights = os.path.join(d, "bb.safetensors")
            subprocess.run([tool, "import", bbtest.fetch_package(), weights], check=True,
                           stdout=subprocess.DEVNULL)
        out = os.path.join(d, "layers.f32")
        t = time.monotonic()
        r = subprocess.run([tool, "layers", weights, out, args.layers, *paths], check=True,
                           capture_output=True, text=True)
        shapes = [line.split() for line in r.stdout.splitlines()]
        total = sum(6 * int(s[3]) for s in shapes)
        a = np.fromfile(out, dtype=np.float32).reshape(len(paths), total)
        np.save(os.path.join(dest, "layers.npy"), a)
    print(f"{len(ids)} crops with an object ({np.bincount(y, minlength=6).tolist()} per class), "
          f"C reference pass {time.monotonic() - t:.0f}s; chance {1 / 6:.3f}")
    print(f"{'layer':24s} {'h×w×c':>11s} | {'mean':>11s} {'max':>11s} {'mean+max':>11s} {'2×2 mean':>11s} "
          f"{'2×2+max':>11s}")
    off = 0
    for name, h, w, c in shapes:
        c = int(c)
        x = a[:, off:off + 6 * c]
        off += 6 * c
        cells = [("mean", x[:, :c]), ("max", x[:, c:2 * c]), ("mean+max", x[:, :2 * c]),
                 ("2x2", x[:, 2 * c:]), ("2x2+max", x[:, c:])]
        row = [f"{ridge_probe(v, y):.3f} ({v.shape[1]})" for _, v in cells]
        print(f"{name:24s} {h + '×' + w + '×' + str(c):>11s} | " + " ".join(f"{s:>11s}" for s in row),
              flush=True)
    # layers together: their means side by side, and their means and maxes
    where, off = {}, 0
    for name, h, w, c in shapes:
        where[name] = (off, int(c))
        off += 6 * int(c)
    for group in filter(None, args.combos.split(",")):
        names = group.split("+")
        if not all(n in where for n in names):
            continue
        mean = np.hstack([a[:, where[n][0]:where[n][0] + where[n][1]] for n in names])
        both = np.hstack([a[:, where[n][0]:where[n][0] + 2 * where[n][1]] for n in names])
        print(f"{group}: mean {ridge_probe(mean, y):.3f} ({mean.shape[1]}), "
              f"mean+max {ridge_probe(both, y):.3f} ({both.shape[1]})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
