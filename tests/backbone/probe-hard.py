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
run skips the sync. Needs numpy (Debian python3-numpy)."""
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
