#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Idle fluffd: resident memory and wakeups per minute.

Run inside a private session (the numbers are printed, not asserted):
    tests/with-session.sh python3 tests/bench/bench-idle.py [--seconds 20]

Wakeups are the times the kernel scheduled any of fluffd's threads
(/proc/PID/task/*/schedstat, third field) over the window, scaled to a
minute. The reference measured in the same run is a `sleep` process, which
never wakes: its count is the floor of the method."""
import argparse
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fluffd import Fluffd  # noqa: E402


def timeslices(pid):
    """{thread id: times scheduled}."""
    out = {}
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                out[path.split("/")[4]] = int(f.read().split()[2])
        except (OSError, IndexError, ValueError):
            pass
    return out


def wakeups(before, after):
    """Scheduling events between two samples; threads that ended in between
    are not counted, threads that started count from zero."""
    return sum(n - before.get(tid, 0) for tid, n in after.items())


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--after-sync", action="store_true",
                    help="log in and sync a small user first (idle after work, connections cached)")
    args = ap.parse_args()

    site = None
    url = "http://127.0.0.1:9"
    if args.after_sync:
        from fakesite import FakeSite
        site = FakeSite(liked=30, disliked=20).start()
        url = site.url
    ref = subprocess.Popen(["sleep", str(args.seconds + 10)])
    with Fluffd(site=url, config={"rate_limit": 2}) as d:
        d.status()  # one call, as a client would make at startup
        if site:
            assert d.login(site.user, site.api_key).returncode == 0
            assert d.ctl("sync", "--quiet").returncode == 0
        time.sleep(2)
        a, r0 = timeslices(d.pid), timeslices(ref.pid)
        time.sleep(args.seconds)
        b, r1 = timeslices(d.pid), timeslices(ref.pid)
        scale = 60.0 / args.seconds
        print(f"idle fluffd{' after a sync' if site else ''}: RSS {rss_kib(d.pid)} KiB, {threads(d.pid)} thread(s), "
              f"{wakeups(a, b) * scale:.1f} wakeups/min over {args.seconds:.0f}s "
              f"(reference `sleep`: {wakeups(r0, r1) * scale:.1f} wakeups/min)")
    ref.kill()
    ref.wait()
    if site:
        site.stop()


if __name__ == "__main__":
    main()
