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
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[2])
        except (OSError, IndexError, ValueError):
            pass
    return total


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
    args = ap.parse_args()

    ref = subprocess.Popen(["sleep", str(args.seconds + 10)])
    with Fluffd(site="http://127.0.0.1:9") as d:
        d.status()  # one call, as a client would make at startup
        time.sleep(2)
        a, r0 = timeslices(d.pid), timeslices(ref.pid)
        time.sleep(args.seconds)
        b, r1 = timeslices(d.pid), timeslices(ref.pid)
        scale = 60.0 / args.seconds
        print(f"idle fluffd: RSS {rss_kib(d.pid)} KiB, {threads(d.pid)} thread(s), "
              f"{(b - a) * scale:.1f} wakeups/min over {args.seconds:.0f}s "
              f"(reference `sleep`: {(r1 - r0) * scale:.1f} wakeups/min)")
    ref.kill()
    ref.wait()


if __name__ == "__main__":
    main()
