#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Predict of 320 posts with the image backbone, download excluded, against
the embedding throughput measured in the same run.

    tests/with-session.sh env FLUFF_BUILD_DIR=build PYTHONPATH=tests \\
        python3 tests/bench/bench-predict.py [--count 320] [--rounds 2]

A small world is synced and a model trained (10 s) once; then predict runs
--count posts `--rounds` times (the first round renders the site's JPEGs, so
it is a warm-up and not reported). The Predict job logs its phases: images
(loopback download + crop, the site's files already rendered), embedding
(the backbone on the crops) and scoring (the head). Reported per round:
seconds and images/s of embedding + scoring (the predict without the
download), the images phase for what it is, and the ratio of predict's
embedding rate to `bb-tool bench` (the bare Vulkan forward pass at batch 32
on the same weights), measured right after each round. Not a ctest test."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "backbone"))
import bbtest  # noqa: E402
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, data_dir, fresh_state, site_cache_dir  # noqa: E402

SEED = 47
QUERY = "-no_such_tag_anywhere"
PHASES = re.compile(r"Predict run (\d+): (\d+) posts; images ([\d.]+) s \(download and crop\), "
                    r"embedding ([\d.]+) s, scoring ([\d.]+) s\.")


def wait_idle(d, timeout=900):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        jobs = d.ctl("jobs", "--json").json()
        if all(j["state"] not in ("queued", "running") for j in jobs):
            return
        time.sleep(0.5)
    raise SystemExit("jobs still running")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--bench-seconds", type=float, default=8)
    args = ap.parse_args()
    tgz = bbtest.fetch_package()
    tool = os.path.join(bbtest.BUILD, "tests", "bb-tool")
    fresh_state()
    with FakeSite(seed=SEED, liked=40, disliked=40, both=0, others=args.count + 140, rate_limit=0,
                  data_dir=site_cache_dir(SEED)) as site, \
            Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
        assert d.login(site.user, site.api_key).returncode == 0
        r = d.ctl("backbone", "import", tgz)
        assert r.returncode == 0, r
        weights = os.path.join(data_dir(), "models", "backbone.safetensors")
        assert d.ctl("sync", "--quiet").returncode == 0
        wait_idle(d)
        r = d.ctl("train", "--quiet", "--time", "10s")
        assert r.returncode == 0, f"{r!r}\n{d.log()[-2000:]}"
        results = []
        for rnd in range(args.rounds):
            t = time.monotonic()
            r = d.ctl("predict", "--quiet", "--json", "--count", str(args.count), "--", QUERY)
            wall = time.monotonic() - t
            assert r.returncode == 0, f"{r!r}\n{d.log()[-2000:]}"
            m = PHASES.findall(d.log())[-1]
            n, images, embed, score = int(m[1]), float(m[2]), float(m[3]), float(m[4])
            ref = json.loads(subprocess.run([tool, "bench", weights, "vulkan", "32", str(args.bench_seconds)],
                                            check=True, capture_output=True, text=True).stdout)
            row = {"round": rnd, "warm_up": rnd == 0, "posts": n, "wall_s": round(wall, 2),
                   "images_phase_s": images, "embed_s": embed, "score_s": score,
                   "predict_without_download_s": round(embed + score, 3),
                   "predict_images_per_s": round(n / (embed + score), 3),
                   "embed_images_per_s": round(n / embed, 3) if embed > 0 else None,
                   "bb_tool_vulkan_images_per_s": ref["images_per_s"],
                   "ratio_predict_over_embedding": round(n / (embed + score) / ref["images_per_s"], 3)}
            print(json.dumps(row), flush=True)
            if rnd > 0:
                results.append(row)
        if results:
            best = min(results, key=lambda x: x["predict_without_download_s"])
            print(json.dumps({"summary": f"predict of {best['posts']} posts without download: "
                              f"{best['predict_without_download_s']} s, {best['predict_images_per_s']} images/s "
                              f"= {best['ratio_predict_over_embedding']} x the bare embedding rate "
                              f"({best['bb_tool_vulkan_images_per_s']} images/s)"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
