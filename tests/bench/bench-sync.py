#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sync throughput against the fake site with added latency, against the
bound that rate_limit and download_concurrency set.

    tests/with-session.sh python3 tests/bench/bench-sync.py [--latency-ms 50]

The bound, measured in the same run: the API walk cannot go faster than
rate_limit requests per second (the requests fluffd made, from the site's
stats), and the images cannot arrive faster than download_concurrency at a
time, each taking as long as one download measured from this script (latency
included). bound = api_requests / rate_limit + images * t_image /
download_concurrency; ratio = bound / measured (goal >= 0.9). The site's JPEGs
are rendered once beforehand so the fake site's own rendering is not timed."""
import argparse
import os
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from fakesite import USER_AGENT, FakeSite  # noqa: E402
from fluffd import Fluffd, fresh_state, site_cache_dir  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--liked", type=int, default=150)
    ap.add_argument("--disliked", type=int, default=100)
    ap.add_argument("--rate-limit", type=float, default=2)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=224)
    args = ap.parse_args()
    seed = 7
    config = {"rate_limit": args.rate_limit, "download_concurrency": args.concurrency,
              "image_size": args.image_size}

    with FakeSite(seed=seed, liked=args.liked, disliked=args.disliked, both=5, others=20,
                  data_dir=site_cache_dir(seed)) as site:
        # Warm-up sync without latency renders every JPEG on the site once.
        with Fluffd(site=site.url, config=config) as d:
            assert d.login(site.user, site.api_key).returncode == 0
            r = d.ctl("sync", "--quiet")
            assert r.returncode == 0, r
        fresh_state()

        site.config(latency_ms=args.latency_ms)
        with Fluffd(site=site.url, config=config) as d:
            assert d.login(site.user, site.api_key).returncode == 0
            site.reset_stats()
            t = time.monotonic()
            r = d.ctl("sync", "--quiet")
            measured = time.monotonic() - t
            assert r.returncode == 0, r
            with open(f"/proc/{d.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            st = site.stats()
            images = sum(st["images_served"].values())
            urls = list(st["images_served"].keys())[:10]
            api = st["api_requests"]

        # One image download from here, latency included, as the reference.
        t = time.monotonic()
        for u in urls:
            req = urllib.request.Request(u if u.startswith("http") else site.url + u,
                                         headers={"User-Agent": USER_AGENT})
            urllib.request.urlopen(req, timeout=30).read()
        t_image = (time.monotonic() - t) / max(1, len(urls))

    bound = api / args.rate_limit + images * t_image / args.concurrency
    print(f"sync: {api} API requests, {images} images in {measured:.2f}s with {args.latency_ms} ms latency; "
          f"bound {bound:.2f}s (rate_limit {args.rate_limit}/s, {args.concurrency} downloads of "
          f"{t_image * 1000:.0f} ms); ratio {bound / measured:.2f} (goal >= 0.9); fluffd used {cpu:.2f}s CPU "
          f"on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
