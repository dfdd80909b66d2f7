#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A user with more than 1,000 labelled posts: several pages per list
(page=b<id> cursors), label counts equal the site's truth, every crop is a
square JPEG of image_size, a second sync downloads nothing, the site never
saw more than 2 API requests in a second nor the key in a URL.
Bad input that must be survived: lists longer than one page, posts deleted,
hidden or animated among them."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, site_cache_dir  # noqa: E402
import synccheck  # noqa: E402

IMAGE_SIZE = 224
SEED = 21


class BigSync(unittest.TestCase):
    def test_big_user(self):
        with FakeSite(seed=SEED, liked=620, disliked=420, both=12, others=40,
                      data_dir=site_cache_dir(SEED), pregenerate=2) as site:
            u = site.user_state()
            labelled = set(u["favorites"]) | set(u["upvotes"]) | set(u["downvotes"])
            self.assertGreaterEqual(len(labelled), 1000)
            with Fluffd(site=site.url, config={"rate_limit": 2, "image_size": IMAGE_SIZE}) as d:
                self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
                site.reset_stats()
                t = time.monotonic()
                r = d.ctl("sync")
                secs = time.monotonic() - t
                self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
                st = site.stats()
                print(f"sync of {len(labelled)} labelled posts: {secs:.1f}s, "
                      f"{st['api_requests']} API requests, {sum(st['images_served'].values())} images",
                      file=sys.stderr)
                expected = synccheck.check_labels(self, site)
                status = d.status()
                synccheck.check_status_counts(self, status, expected)
                self.assertGreaterEqual(expected["liked"] + expected["disliked"] + expected["conflicts"] +
                                        expected["skipped"], 1000)
                n = synccheck.check_images(self, IMAGE_SIZE)
                self.assertEqual(n, status["counts"]["images"])
                self.assertEqual(n + status["counts"]["failed"], expected["liked"] + expected["disliked"])
                synccheck.check_site_manners(self, site, site.api_key)
                synccheck.check_integrity(self)

                site.reset_stats()
                t = time.monotonic()
                r = d.ctl("sync")
                self.assertEqual(r.returncode, 0, r)
                print(f"second sync: {time.monotonic() - t:.1f}s", file=sys.stderr)
                self.assertEqual(synccheck.images_served(site), 0)
                synccheck.check_site_manners(self, site, site.api_key)
                self.assertNotIn(site.api_key, d.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
