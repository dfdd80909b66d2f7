#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Benchmark of the taste model on the fake site's generated taste: syncs
--liked 300 --disliked 300 once with the backbone imported (the store is kept
in $FLUFF_BUILD_DIR/taste-state, so later runs only train), then trains with
several seeds and prints the validation ROC AUC of each, with the sets used.
Not a ctest test: it takes minutes the first time.

    tests/with-session.sh env FLUFF_BUILD_DIR=build PYTHONPATH=tests \\
        python3 tests/bench/bench-taste.py [--time 60] [--seeds 1,2,3]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "backbone"))

BUILD = os.path.abspath(os.environ.setdefault("FLUFF_BUILD_DIR", "build"))
STATE = os.path.join(BUILD, "taste-state")
# The store persists across runs of this script; the bus stays the session's.
for kind in ("DATA", "CONFIG", "CACHE"):
    os.environ[f"XDG_{kind}_HOME"] = os.path.join(STATE, kind.lower())
    os.makedirs(os.environ[f"XDG_{kind}_HOME"], exist_ok=True)

import bbtest  # noqa: E402
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, site_cache_dir  # noqa: E402

SEED = 41
BUS = ["busctl", "--user"]
DEST = ["io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1", "io.github.fluffml.Fluff1.Manager"]


def wait_idle(d, timeout=900):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        jobs = d.ctl("jobs", "--json").json()
        if all(j["state"] not in ("queued", "running") for j in jobs):
            return jobs
        time.sleep(0.5)
    raise SystemExit(f"jobs still running: {jobs}")


def model_info():
    r = subprocess.run(BUS + ["get-property"] + DEST + ["ModelInfo", "--json=short"],
                       capture_output=True, text=True, timeout=30, check=True)
    return json.loads(json.loads(r.stdout)["data"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time", type=int, default=60)
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()

    marker = os.path.join(STATE, "synced")
    with FakeSite(seed=SEED, liked=300, disliked=300, both=0, others=5,
                  data_dir=site_cache_dir(SEED)) as site, \
            Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
        if not os.path.exists(marker):
            tgz = bbtest.fetch_package()
            assert d.login(site.user, site.api_key).returncode == 0
            assert d.ctl("backbone", "import", tgz).returncode == 0
            t = time.monotonic()
            assert d.ctl("sync").returncode == 0
            wait_idle(d)
            print(f"sync + embed: {time.monotonic() - t:.1f}s, {d.status()['counts']}", file=sys.stderr)
            open(marker, "w").close()
        aucs = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            t = time.monotonic()
            subprocess.run(BUS + ["call"] + DEST + ["Train", "a{sv}", "2", "time_budget_s", "t", str(args.time),
                                                    "seed", "t", str(seed)], check=True, capture_output=True)
            time.sleep(0.5)
            wait_idle(d)
            info = model_info()
            m = info["metrics"]
            aucs.append(m["roc_auc"])
            print(f"seed {seed}: {time.monotonic() - t:5.1f}s  val AUC {m['roc_auc']:.3f}  "
                  f"bal.acc {m['balanced_accuracy']:.3f}  n_val {m['n_pos']}+{m['n_neg']}  "
                  f"sets {[s['name'] for s in info['feature_sets'] if s['used']]}  tags {info['use_tags']}",
                  flush=True)
        print(f"mean val AUC {sum(aucs) / len(aucs):.3f} over {len(aucs)} seeds (budget {args.time}s)")


if __name__ == "__main__":
    main()
