#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""100,000 labelled posts: sync, embedding, training and prediction on a
fake-site user that big, with fluffd's peak RSS per step (goal <= 500 MB)
and the latency of `fluffctl status` while each job runs (goal p99 < 50 ms).

    tests/with-session.sh nice -n 10 python3 tests/bench/bench-scale.py \\
        [--liked 50000 --disliked 50000] [--image-size 64] [--step-limit 3600] \\
        [--json OUT.json]

    python3 tests/bench/bench-scale.py --extrapolate SMALL.json LARGE.json [--to 100000]

The 100,000-post run itself, on a quiet machine (the status latency is
only worth judging there; the idle reference says how quiet):

    FLUFF_BUILD_DIR=build tests/with-session.sh nice -n 10 python3 \
        tests/bench/bench-scale.py --step-limit 10800 --json /tmp/scale-100k.json

The training holds every labelled post's tags (~0.5 KB a post) and the
newest train_image_posts (8000) posts' image rows as half floats (9 KB),
within a 96 MB budget (daemon/train/budget.h: ~4,600 rows at 100,000
posts). Before that change (float rows, older posts left out) it peaked
at 620 MB with 10,000 rows (12,000 posts, measured) and 488 MB with
3,424: ~20 KB a row over ~420 MB of engine and daemon. After it, at
2,572 posts with 1,000 image rows, the training's peak after embedding
was 381 MB (391 MB without main.c's malloc settings).

It needs ~25 GB free: the fake site keeps ~225 KB of JPEGs a post in
build/fake-site-cache (2.7 GB at 12,000 posts) and fluffd's store ~23 KB
of embeddings an image. Measured at 12,000 posts on a loaded 2-core
machine: sync 19 posts/s with a cold site cache, embedding 4-9 images/s
(40-50 quiet); so ~85 min of sync and 3 h of embedding loaded, about
1.5-2 h in all quiet; training is its --train-time plus reading.

Not part of CI (hours on a small machine). Each step is timed; a step that
runs past --step-limit seconds is cut off (fluffd restarted), the report
says how far it got, and the next step works on what is there. The embedding step needs the nsfwjs package
(tools/fetch-backbone.sh); without it the step is skipped. The reference for
the status latency is the same command against an idle fluffd, measured
first in the same run. The site's JPEGs go to the build tree's
fake-site-cache, so a second run does not render them again.

Each step's peak RSS is the kernel's own high-water mark (VmHWM), reset
before the step (/proc/PID/clear_refs 5), so it is exact, not sampled;
beside it the sampled peaks of anonymous memory (heap, device memory of
lavapipe, compiled pipelines) and of mapped files (libLLVM, libvulkan's
code). After the last step the script waits past the engine's idle release
(60 s) and reports what fluffd keeps while idle.

--keep-state works on what an earlier run left in the same XDG folders
(run without tests/with-session.sh, which removes them): the store, the
backbone and its embeddings. With --steps train,predict it measures a
changed training on the same 100,000 posts without syncing and embedding
them again; --steps predict,train,predict trains in a fluffd that holds
the forward pass, as it does after embedding.

The vote step likes 20 posts that are liked already, one after another
(`fluffctl like ID...`): each vote is stored, queued for the site and
counted, so the status latency there is what a person clicking Like in
notifications makes everyone else wait.

--extrapolate reads two runs' --json files (measured at two sizes) and
projects each step's peak to --to posts along the straight line through
them. That is an extrapolation, labelled so: a step whose memory is capped
(a training holds train_image_posts embeddings at most) grows slower than
the line once the cap holds, so the line is an upper bound there."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from fakesite import FakeSite  # noqa: E402
from fluffd import FLUFFCTL, Fluffd, data_dir, fresh_state, site_cache_dir  # noqa: E402

SEED = 100
GOAL_RSS_MB = 500
GOAL_P99_MS = 50
STEPS = ("sync", "import", "embed", "train", "predict", "vote")
VOTES = 20  # the vote step: likes of posts already liked, one after another
IDLE_RELEASE_S = 60  # daemon/services/backbone.c IDLE_RELEASE_USEC


def rss_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pid):
    """The kernel's peak RSS (VmHWM) starts again from the current RSS."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Probe(threading.Thread):
    """`fluffctl status --json` in a loop (its wall time each), and fluffd's
    RSS, anonymous and file-backed, sampled."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d, self.times, self.stop_flag = d, [], False
        self.at = []  # seconds since the probe began, per answer: where in a job the slow ones fall
        self.rss_peak = self.anon_peak = self.file_peak = 0

    def run(self):
        t0 = time.monotonic()
        while not self.stop_flag:
            t = time.monotonic()
            r = subprocess.run([FLUFFCTL, "status", "--json"], capture_output=True, env=self.d.env(), timeout=60)
            if r.returncode == 0:
                self.times.append((time.monotonic() - t) * 1000)
                self.at.append(t - t0)
            pid = self.d.pid
            self.rss_peak = max(self.rss_peak, rss_kb(pid, "VmRSS"))
            self.anon_peak = max(self.anon_peak, rss_kb(pid, "RssAnon"))
            self.file_peak = max(self.file_peak, rss_kb(pid, "RssFile"))
            time.sleep(0.2)

    def p99(self):
        ts = sorted(self.times)
        return ts[min(len(ts) - 1, int(len(ts) * 0.99))] if ts else None

    def slowest(self, k=8):
        """The k slowest answers as (seconds into the step, ms), in time order."""
        worst = sorted(zip(self.times, self.at), reverse=True)[:k]
        return [(round(at, 1), round(ms, 1)) for ms, at in sorted(worst, key=lambda x: x[1])]

    def summary(self):
        ts = sorted(self.times)
        return {
            "status_n": len(ts),
            "status_median_ms": statistics.median(ts) if ts else None,
            "status_p99_ms": self.p99(),
            "status_max_ms": ts[-1] if ts else None,
            "status_slowest": self.slowest(),
            "rss_sampled_peak_mb": self.rss_peak / 1024,
            "anon_sampled_peak_mb": self.anon_peak / 1024,
            "file_sampled_peak_mb": self.file_peak / 1024,
        }

    def report(self):
        if not self.times:
            return "no status answers"
        s = self.summary()
        return (f"status n={s['status_n']} median {s['status_median_ms']:.1f} ms p99 {s['status_p99_ms']:.1f} ms "
                f"max {s['status_max_ms']:.1f} ms; slowest (s into the step, ms) {s['status_slowest']}; sampled peaks: RSS {s['rss_sampled_peak_mb']:.0f} MB "
                f"(anonymous {s['anon_sampled_peak_mb']:.0f}, files {s['file_sampled_peak_mb']:.0f})")


def step(d, name, args, limit, results):
    exact = reset_hwm(d.pid)
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
    hwm = rss_kb(d.pid, "VmHWM") / 1024
    after = rss_kb(d.pid, "VmRSS") / 1024
    st = json.loads(subprocess.run([FLUFFCTL, "status", "--json"], capture_output=True, text=True,
                                   env=d.env()).stdout or "{}")
    jobs = [j for j in st.get("jobs", []) if j.get("state") == "running"]
    where = f"; running job at {jobs[0]['done']}/{jobs[0]['total']} ({jobs[0]['phase']})" if jobs else ""
    peak_kind = "VmHWM since the step began" if exact else "VmHWM of the process (clear_refs refused)"
    line = (f"{name}: rc {rc} in {took:.0f} s{where}; {probe.report()}; peak RSS {hwm:.0f} MB ({peak_kind}), "
            f"{after:.0f} MB after; counts {st.get('counts')}; {err.strip()[-200:]!r}")
    print(line, flush=True)
    results.append(dict(step=name, rc=rc if isinstance(rc, int) else str(rc), seconds=took, peak_rss_mb=hwm,
                        peak_exact=exact, rss_after_mb=after, **probe.summary()))
    if rc != 0:
        # A cut-off job goes on inside fluffd: a restart ends it, and the
        # next step works on what this one got done.
        d.stop()
        d.start()
    return rc == 0


def liked_posts(n):
    """The newest n liked posts of the store: likes of them change no label,
    and each still goes through the whole vote (store, outbox, counts)."""
    import sqlite3
    db = sqlite3.connect(f"file:{os.path.join(data_dir(), 'fluff.db')}?mode=ro", uri=True)
    try:
        return [str(r[0]) for r in db.execute(
            "SELECT post_id FROM post_labels WHERE value = 1 ORDER BY post_id DESC LIMIT ?", (n,))]
    finally:
        db.close()


def table(results, reference_p99):
    print(f"\n| step | time | peak RSS (goal <= {GOAL_RSS_MB} MB) | status p99 (goal < {GOAL_P99_MS} ms; "
          f"idle reference {reference_p99:.1f} ms) |")
    print("|---|---|---|---|")
    for r in results:
        p99 = r["status_p99_ms"]
        print(f"| {r['step']} | {r['seconds']:.0f} s | {r['peak_rss_mb']:.0f} MB | "
              f"{'-' if p99 is None else f'{p99:.1f} ms'} |")


def extrapolate(paths, to):
    runs = []
    for p in paths:
        with open(p) as f:
            runs.append(json.load(f))
    runs.sort(key=lambda r: r["posts"])
    a, b = runs[0], runs[-1]
    if a["posts"] == b["posts"]:
        sys.exit("--extrapolate needs two runs of different sizes")
    print(f"measured at {a['posts']} and {b['posts']} labelled posts; extrapolated (straight line) to {to}:")
    print("| step | peak RSS measured | peak RSS extrapolated | time measured | time extrapolated |")
    print("|---|---|---|---|---|")
    steps_b = {r["step"]: r for r in b["steps"]}
    for ra in a["steps"]:
        rb = steps_b.get(ra["step"])
        if not rb:
            continue
        k = (to - a["posts"]) / (b["posts"] - a["posts"])

        def line(x, y):
            # no growth measured (or noise below it): the larger measurement, said so
            return (f"{max(x, y):.0f} (flat)" if y <= x else f"{x + k * (y - x):.0f}")
        print(f"| {ra['step']} | {ra['peak_rss_mb']:.0f} / {rb['peak_rss_mb']:.0f} MB | "
              f"{line(ra['peak_rss_mb'], rb['peak_rss_mb'])} MB | "
              f"{ra['seconds']:.0f} / {rb['seconds']:.0f} s | {line(ra['seconds'], rb['seconds'])} s |")
    print("A training's time is its budget (--train-time), not a function of the posts; the line is an "
          "upper bound for a step whose memory is capped.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--liked", type=int, default=50000)
    ap.add_argument("--disliked", type=int, default=50000)
    ap.add_argument("--others", type=int, default=2000)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--step-limit", type=float, default=3600)
    ap.add_argument("--train-time", default="5m")
    ap.add_argument("--no-embed", action="store_true", help="skip the backbone (tags and the small CNN only)")
    ap.add_argument("--train-image-posts", type=int,
                    help="config train_image_posts (default 8000; the memory budget caps it, daemon/train/budget.h)")
    ap.add_argument("--no-idle-wait", action="store_true", help="do not wait for the engine's idle release")
    ap.add_argument("--json", help="write the measurements here (for --extrapolate)")
    ap.add_argument("--extrapolate", nargs=2, metavar="RUN.json", help="project two runs' figures to --to posts")
    ap.add_argument("--to", type=int, default=100000)
    ap.add_argument("--keep-state", action="store_true",
                    help="keep what an earlier run left in these XDG folders (store, backbone, embeddings)")
    ap.add_argument("--steps", default=",".join(STEPS),
                    help=f"the steps to run, in this order, of {','.join(STEPS)} (default: all)")
    args = ap.parse_args()
    if args.extrapolate:
        extrapolate(args.extrapolate, args.to)
        return
    steps = args.steps.split(",")
    unknown = set(steps) - set(STEPS)
    if unknown:
        sys.exit(f"--steps: no step {', '.join(sorted(unknown))} (the steps: {', '.join(STEPS)})")
    if not args.keep_state:
        fresh_state()
    results = []
    t0 = time.monotonic()
    with FakeSite(seed=SEED, liked=args.liked, disliked=args.disliked, both=0, others=args.others,
                  rate_limit=0, data_dir=site_cache_dir(SEED), startup_timeout=1800) as site:
        print(f"site up in {time.monotonic() - t0:.0f} s: {args.liked} liked, {args.disliked} disliked", flush=True)
        config = {"rate_limit": 2, "image_size": args.image_size, "download_concurrency": 8}
        if args.train_image_posts:
            config["train_image_posts"] = args.train_image_posts
        with Fluffd(site=site.url, config=config) as d:
            # remembered, so the restart after a cut-off step keeps the session
            assert d.login(site.user, site.api_key, remember=True).returncode == 0
            idle = Probe(d)
            idle.start()
            time.sleep(5)
            idle.stop_flag = True
            idle.join()
            print(f"reference, idle fluffd: {idle.report()}", flush=True)
            pkg = None
            if {"import", "embed"} & set(steps):
                if not args.no_embed:
                    pkg = subprocess.run([os.path.join(ROOT, "tools", "fetch-backbone.sh"),
                                          os.path.join(ROOT, ".cache", "backbone")],
                                         capture_output=True, text=True).stdout.strip()
                if not pkg:
                    print("embedding: skipped (--no-embed, or no nsfwjs package)", flush=True)
            # in the order given: "predict,train" measures a training in a
            # fluffd that holds the forward pass, as one that has just embedded
            for name in steps:
                if name in ("import", "embed") and not pkg:
                    continue
                step(d, "backbone import" if name == "import" else name, {
                    "sync": ["sync", "--quiet"],
                    "import": ["backbone", "import", pkg],
                    "embed": ["embed", "--quiet"],
                    "train": ["train", "--time", args.train_time],
                    "predict": ["predict", "--count", "320", "--", "-no_such_tag"],
                    "vote": ["like", *liked_posts(VOTES)] if name == "vote" else [],
                }[name], args.step_limit, results)
            idle_mb = None
            if not args.no_idle_wait:
                time.sleep(IDLE_RELEASE_S + 10)
                idle_mb = rss_kb(d.pid, "VmRSS") / 1024
                print(f"idle {IDLE_RELEASE_S + 10} s after the last job (engine released): RSS {idle_mb:.0f} MB",
                      flush=True)
            hwm_all = max(r["peak_rss_mb"] for r in results)
            print(f"fluffd peak RSS over every step {hwm_all:.0f} MB (goal <= {GOAL_RSS_MB} MB)", flush=True)
            table(results, idle.p99() or 0.0)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(dict(posts=args.liked + args.disliked, image_size=args.image_size,
                                   train_time=args.train_time, train_image_posts=args.train_image_posts, idle_reference=idle.summary(),
                                   idle_after_mb=idle_mb, steps=results), f, indent=1)


if __name__ == "__main__":
    main()
