#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""100,000 labelled posts: sync, embedding, training and prediction on a
fake-site user that big, with fluffd's peak RSS (goal <= 500 MB) and the
latency of `fluffctl status` while each job runs (goal p99 < 50 ms).

    tests/with-session.sh nice -n 10 python3 tests/bench/bench-scale.py \
        [--liked 50000 --disliked 50000] [--image-size 64] [--step-limit 3600]

Not part of CI (hours on a small machine). Each step is timed; a step that
runs past --step-limit seconds is cut off (fluffd restarted), the report
says how far it got, and the next step works on what is there. The embedding step needs the nsfwjs package
(tools/fetch-backbone.sh); without it the step is skipped. The reference for
the status latency is the same command against an idle fluffd, measured
first in the same run. The site's JPEGs go to the build tree's
fake-site-cache, so a second run does not render them again."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from fakesite import FakeSite  # noqa: E402
from fluffd import FLUFFCTL, Fluffd, fresh_state, site_cache_dir  # noqa: E402

SEED = 100


def rss_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Probe(threading.Thread):
    """`fluffctl status --json` in a loop (its wall time each), and fluffd's RSS."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d, self.times, self.rss_peak, self.stop_flag = d, [], 0, False

    def run(self):
        while not self.stop_flag:
            t = time.monotonic()
            r = subprocess.run([FLUFFCTL, "status", "--json"], capture_output=True, env=self.d.env(), timeout=60)
            if r.returncode == 0:
                self.times.append((time.monotonic() - t) * 1000)
            self.rss_peak = max(self.rss_peak, rss_kb(self.d.pid, "VmRSS"))
            time.sleep(0.2)

    def report(self):
        if not self.times:
            return "no status answers"
        ts = sorted(self.times)
        p99 = ts[min(len(ts) - 1, int(len(ts) * 0.99))]
        return (f"status n={len(ts)} median {statistics.median(ts):.1f} ms p99 {p99:.1f} ms max {ts[-1]:.1f} ms; "
                f"RSS peak seen {self.rss_peak / 1024:.0f} MB")


def step(d, name, args, limit, results):
    probe = Probe(d)
    probe.start()
    t = time.monotonic()
    proc = subprocess.Popen([FLUFFCTL, *args], env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=limit)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        rc = f"cut off after {limit:.0f} s"
    took = time.monotonic() - t
    probe.stop_flag = True
    probe.join()
    st = json.loads(subprocess.run([FLUFFCTL, "status", "--json"], capture_output=True, text=True,
                                   env=d.env()).stdout or "{}")
    jobs = [j for j in st.get("jobs", []) if j.get("state") == "running"]
    where = f"; running job at {jobs[0]['done']}/{jobs[0]['total']} ({jobs[0]['phase']})" if jobs else ""
    line = (f"{name}: rc {rc} in {took:.0f} s{where}; {probe.report()}; VmHWM {rss_kb(d.pid, 'VmHWM') / 1024:.0f} MB; "
            f"counts {st.get('counts')}; {err.strip()[-200:]!r}")
    print(line, flush=True)
    results.append(line)
    if rc != 0:
        # A cut-off job goes on inside fluffd: a restart ends it, and the
        # next step works on what this one got done.
        d.stop()
        d.start()
    return rc == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--liked", type=int, default=50000)
    ap.add_argument("--disliked", type=int, default=50000)
    ap.add_argument("--others", type=int, default=2000)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--step-limit", type=float, default=3600)
    ap.add_argument("--train-time", default="5m")
    ap.add_argument("--no-embed", action="store_true", help="skip the backbone (tags and the small CNN only)")
    args = ap.parse_args()
    fresh_state()
    results = []
    t0 = time.monotonic()
    with FakeSite(seed=SEED, liked=args.liked, disliked=args.disliked, both=0, others=args.others,
                  rate_limit=0, data_dir=site_cache_dir(SEED), startup_timeout=1800) as site:
        print(f"site up in {time.monotonic() - t0:.0f} s: {args.liked} liked, {args.disliked} disliked", flush=True)
        config = {"rate_limit": 2, "image_size": args.image_size, "download_concurrency": 8}
        with Fluffd(site=site.url, config=config) as d:
            # remembered, so the restart after a cut-off step keeps the session
            assert d.login(site.user, site.api_key, remember=True).returncode == 0
            idle = Probe(d)
            idle.start()
            time.sleep(5)
            idle.stop_flag = True
            idle.join()
            print(f"reference, idle fluffd: {idle.report()}", flush=True)
            step(d, "sync", ["sync", "--quiet"], args.step_limit, results)
            pkg = None if args.no_embed else subprocess.run([os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "fetch-backbone.sh"),
                                  os.path.join(os.path.dirname(os.path.dirname(HERE)), ".cache", "backbone")],
                                 capture_output=True, text=True).stdout.strip()
            if pkg:
                step(d, "embedding (backbone import + embed)", ["backbone", "import", pkg], args.step_limit, results)
                step(d, "embed", ["embed", "--quiet"], args.step_limit, results)
            else:
                print("embedding: skipped (--no-embed, or no nsfwjs package)", flush=True)
            step(d, "train", ["train", "--time", args.train_time], args.step_limit, results)
            step(d, "predict", ["predict", "--count", "320", "--", "-no_such_tag"], args.step_limit, results)
            print(f"fluffd VmHWM (peak RSS) {rss_kb(d.pid, 'VmHWM') / 1024:.0f} MB (goal <= 500 MB)", flush=True)


if __name__ == "__main__":
    main()
