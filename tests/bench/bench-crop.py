#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Crop throughput: the daemon's path (image_crop_square on worker threads,
through fsync + rename) against `vipsthumbnail *.jpg --size 448x448
--smartcrop centre` in one process, on the same ~200 JPEGs 850 px wide, at the
same size and quality, measured in this run. Prints JSON; the goal is a ratio
of at least 0.9. Not a ctest test. The daemon's path fsyncs every crop before
its rename (vipsthumbnail does not): on a real disk that wait is part of the
price of never leaving a partial file.

usage: tests/bench/bench-crop.py [BUILD_DIR] [--images N] [--threads N] [--rounds N]
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.environ.get("FLUFF_BUILD_DIR", "build"))
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--size", type=int, default=448)
    args = ap.parse_args()

    bench = os.path.join(args.build, "tests", "bench-crop")
    if not os.access(bench, os.X_OK):
        raise SystemExit(f"{bench} not found: build the project first")
    if not shutil.which("vipsthumbnail"):
        raise SystemExit("vipsthumbnail not found: install the Debian package 'libvips-tools'")

    work = tempfile.mkdtemp(prefix="fluff-bench-crop-")
    try:
        src = os.path.join(work, "in")
        subprocess.run([bench, "gen", src, str(args.images)], check=True)
        files = sorted(glob.glob(os.path.join(src, "*.jpg")))
        for f in files:  # both sides start from the page cache
            with open(f, "rb") as fh:
                fh.read()

        def run_reference():
            out = os.path.join(work, "ref")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            t0 = time.perf_counter()
            subprocess.run(["vipsthumbnail", *files, "--size", f"{args.size}x{args.size}",
                            "--smartcrop", "centre", "-o", os.path.join(out, "%s.jpg[Q=90,strip]")],
                           check=True)
            return time.perf_counter() - t0

        def run_fluff(threads):
            out = os.path.join(work, "fluff")
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            p = subprocess.run([bench, "run", out, str(threads), str(args.size), *files],
                               check=True, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            json.loads(p.stdout)  # the program's own figure excludes start-up; wall time is compared
            return wall

        # interleaved rounds, best of each: the machine is shared, and the
        # best round is the one least disturbed by others
        ref, ours, ours2 = [], [], []
        for _ in range(args.rounds):
            ref.append(run_reference())
            ours.append(run_fluff(args.threads))
            ours2.append(run_fluff(2 * args.threads))
        ref, ours, ours2 = min(ref), min(ours), min(ours2)
        n = len(files)
        print(json.dumps({
            "images": n,
            "size": args.size,
            "rounds": args.rounds,
            "vipsthumbnail_images_per_s": round(n / ref, 2),
            "fluff_threads": args.threads,
            "fluff_images_per_s": round(n / ours, 2),
            "ratio": round(ref / ours, 3),
            # the daemon's crops wait on fsync: more workers than cores hide it
            "fluff_threads_2x": 2 * args.threads,
            "fluff_images_per_s_2x": round(n / ours2, 2),
            "ratio_2x": round(ref / ours2, 3),
            "goal": 0.9,
        }, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
