#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A fake e621 for Fluff's tests: the site's API rules, a generated world with
a hidden taste, real JPEGs, fault injection and statistics, on 127.0.0.1.
See /work/helpers/FAKE-SITE-CONTRACT.md for the interface."""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from access import Window  # noqa: E402
from faults import Faults  # noqa: E402
from handler import Handler  # noqa: E402
from images import ImageStore  # noqa: E402
from stats import Stats  # noqa: E402
from hard_world import make_world  # noqa: E402


class Site:
    """Everything a request handler needs, owned in one place."""

    def __init__(self, args, data_dir):
        self.world = make_world(args.world, seed=args.seed, user=args.user,
                                api_key=args.api_key, liked=args.liked,
                                disliked=args.disliked, both=args.both,
                                others=args.others)
        self.images = ImageStore(self.world, data_dir, self.log)
        self.stats = Stats()
        self.faults = Faults()
        self.rate_limit = Window(args.rate_limit, 1.0)
        self.write_throttle = Window(args.write_budget, 60.0)
        self.vote_cap = Window(args.vote_cap, 3600.0)
        self.latency_ms = args.latency_ms
        self.e926 = args.e926
        self.banned = False
        self.verbose = args.verbose
        self.base_url = ""
        self.stopping = threading.Event()

    def log(self, msg, always=False):
        if self.verbose or always:
            print(f"fake-e621: {msg}", file=sys.stderr, flush=True)

    def config(self):
        return {"rate_limit": self.rate_limit.cap,
                "write_budget": self.write_throttle.cap,
                "vote_cap": self.vote_cap.cap,
                "latency_ms": self.latency_ms,
                "e926": self.e926,
                "banned": self.banned}

    def configure(self, body):
        for name, win in (("rate_limit", self.rate_limit),
                          ("write_budget", self.write_throttle),
                          ("vote_cap", self.vote_cap)):
            if name in body:
                win.cap = int(body[name])
                win.reset()
        if "latency_ms" in body:
            self.latency_ms = int(body["latency_ms"])
        if "e926" in body:
            self.e926 = bool(body["e926"])
        if "banned" in body:
            self.banned = bool(body["banned"])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data-dir", help="image cache kept across runs (default: a temp dir)")
    ap.add_argument("--user", default="fluffy_tester")
    ap.add_argument("--api-key", help="default: derived from the seed")
    ap.add_argument("--world", choices=["bullseye", "hard"],
                    default=os.environ.get("FAKE_E621_WORLD", "bullseye"),
                    help="bullseye (default, separable, fast tests) or hard "
                         "(quality measurements; see hard_world.py)")
    ap.add_argument("--liked", type=int, default=60)
    ap.add_argument("--disliked", type=int, default=60)
    ap.add_argument("--both", type=int, default=4)
    ap.add_argument("--others", type=int, default=200)
    ap.add_argument("--latency-ms", type=int, default=0, help="added to every response")
    ap.add_argument("--e926", action="store_true", help="behave as the safe-only twin")
    ap.add_argument("--rate-limit", type=int, default=2, help="API requests per second (0: off)")
    ap.add_argument("--write-budget", type=int, default=60, help="logged-in writes per minute")
    ap.add_argument("--vote-cap", type=int, default=3000, help="votes per hour")
    ap.add_argument("--pregenerate", type=int, default=0, metavar="THREADS",
                    help="render samples in the background with this many threads")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    tmp = None
    data_dir = args.data_dir
    if not data_dir:
        data_dir = tmp = tempfile.mkdtemp(prefix="fake-e621-")
    site = Site(args, data_dir)
    server = Server(("127.0.0.1", args.port), Handler)
    server.site = site
    port = server.server_address[1]
    site.base_url = f"http://127.0.0.1:{port}"

    def stop(signum, frame):
        site.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.pregenerate > 0:
        site.images.warm(sorted(site.world.posts.values(), key=lambda p: -p.id),
                         args.pregenerate)
    print(json.dumps({"url": site.base_url, "port": port,
                      "user": site.world.user.name,
                      "api_key": site.world.user.api_key}), flush=True)
    print(f"fake-e621: {len(site.world.posts)} posts, listening on {site.base_url}, "
          f"images in {data_dir}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        site.stopping.set()
        site.images.shutdown()
        server.server_close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
