#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fine-tuning the backbone's top conv against the head alone, on the fake
site's generated taste: one fresh store (--liked/--disliked posts synced and
embedded), then `train --time REF` (below the fine-tuning threshold: the head
alone, the reference) and `train --time LONG` (views + head + fine-tuning),
each followed by a prediction of the same unseen posts scored against the
site's hidden truth. Prints the views, the validation ROC AUC with the head
alone and tuned (same split, same views), the time per fine-tuning epoch,
and the unseen-post ROC AUC of both models with their ratio. Not a ctest
test: it takes about ten minutes.

    tests/with-session.sh env FLUFF_BUILD_DIR=build PYTHONPATH=tests \\
        python3 tests/bench/bench-finetune.py [--ref 80] [--long 240]
"""
import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "backbone"))

import bbtest  # noqa: E402
from fakesite import FakeSite, roc_auc  # noqa: E402
from fluffd import Fluffd, fresh_state, site_cache_dir  # noqa: E402

SEED = 43
QUERY = "-no_such_tag_anywhere"


def wait_idle(d, timeout=900):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        jobs = d.ctl("jobs", "--json").json()
        if all(j["state"] not in ("queued", "running") for j in jobs):
            return
        time.sleep(0.5)
    raise SystemExit(f"jobs still running: {jobs}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", type=int, default=80)
    ap.add_argument("--long", type=int, default=240)
    ap.add_argument("--liked", type=int, default=150)
    ap.add_argument("--disliked", type=int, default=150)
    ap.add_argument("--unseen", type=int, default=150)
    args = ap.parse_args()
    tgz = bbtest.fetch_package()
    fresh_state()
    with FakeSite(seed=SEED, liked=args.liked, disliked=args.disliked, both=0, others=args.unseen,
                  rate_limit=0, data_dir=site_cache_dir(SEED)) as site, \
            Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
        assert d.login(site.user, site.api_key).returncode == 0
        d.ctl("backbone", "import", tgz, check=True)
        t = time.monotonic()
        d.ctl("sync", check=True)
        wait_idle(d)
        print(f"sync + embed: {time.monotonic() - t:.0f} s", file=sys.stderr)
        truth = site.truth()["posts"]
        result = {}
        for name, budget in (("head alone", args.ref), ("fine-tuned", args.long)):
            t = time.monotonic()
            r = d.ctl("train", "--time", f"{budget}s", check=True)
            took = time.monotonic() - t
            print(f"train --time {budget}s ({took:.0f} s): {r.stdout.strip()}", file=sys.stderr)
            r = d.ctl("predict", "--count", str(args.unseen), "--json", "--", QUERY, check=True)
            rows = r.json()
            auc = roc_auc([x["score"] for x in rows], [truth[str(x["id"])]["like"] for x in rows])
            result[name] = auc
            print(f"{name}: unseen-post ROC AUC {auc:.3f} over {len(rows)} posts", file=sys.stderr)
        log = d.log()
        for line in re.findall(r"[Ff]ine-tuning.*", log):
            print(line, file=sys.stderr)
        print(f"unseen-post ROC AUC fine-tuned / head alone: {result['fine-tuned'] / result['head alone']:.3f}")


if __name__ == "__main__":
    main()
