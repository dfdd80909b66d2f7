#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A user with more than 1,000 labelled posts: several pages per list
(page=b<id> cursors), label counts equal the site's truth, every crop is a
square JPEG of image_size, a second sync downloads nothing, the site never
saw more than 2 API requests in a second nor the key in a URL. On these
posts, issue 14's acceptance: two trainings agree (under 10 % of the labels
flip) and the out-of-fold calibration error is at most 0.05, measured where
its noise floor is well below that.
Bad input that must be survived: lists longer than one page, posts deleted,
hidden or animated among them."""
import json
import os
import subprocess
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
EPOCHS = 30  # per network in the fixed-work trainings
ECE_BAR = 0.05  # issue 14's acceptance


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

                self.two_trainings(d, expected["liked"] + expected["disliked"])

    @staticmethod
    def model_quality():
        r = subprocess.run(["busctl", "--user", "get-property", "io.github.fluffml.Fluff1",
                            "/io/github/fluffml/Fluff1", "io.github.fluffml.Fluff1.Manager", "ModelInfo",
                            "--json=short"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r
        return json.loads(json.loads(r.stdout)["data"])["quality"]

    def two_trainings(self, d, labelled):
        """Issue 14's acceptance on these 1,000+ posts: two trainings of the
        same data from different seeds; the second reports the share of the
        labels that flip at the default threshold against the first (under
        10 %), and the out-of-fold calibration error (ECE, 10 equal-width
        bins) is at most 0.05. On 263 posts (test-train) the ECE's noise alone
        is 0.05-0.06, so the bar could not be told from noise there; here the
        daemon reports that floor (the ECE a perfectly calibrated score shows
        on these posts) and it must be well under the bar. Tags only, a fixed
        number of epochs: the machine's speed does not change what is
        compared (the budget is only a ceiling)."""
        runs = []
        for seed in (1, 2):
            t = time.monotonic()
            r = subprocess.run(["busctl", "--user", "call", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
                                "io.github.fluffml.Fluff1.Manager", "Train", "a{sv}", "5", "time_budget_s", "u",
                                "600", "seed", "u", str(seed), "max_epochs", "u", str(EPOCHS), "install", "b",
                                "true", "towers", "s", "tags"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r)
            path = r.stdout.split('"')[1]
            while True:
                j = [j for j in d.ctl("jobs", "--json").json() if j["path"] == path][0]
                if j["state"] not in ("queued", "running"):
                    break
                self.assertLess(time.monotonic() - t, 600, j)
                time.sleep(0.5)
            self.assertEqual(j["state"], "done", f"{j}\n{d.log()[-3000:]}")
            runs.append(time.monotonic() - t)
        q = self.model_quality()
        cal, st = q["calibration"], q["stability"]
        print(f"two trainings of {q['n']} posts ({EPOCHS} epochs, seeds 1 and 2, {runs[0]:.1f}s and "
              f"{runs[1]:.1f}s): {100 * st['flip_rate']:.1f} % of {st['posts']} labels flipped at 0.5; "
              f"out-of-fold ECE {cal['ece']:.3f} over {cal['ece_bins']} bins, noise floor {cal['ece_floor']:.3f} "
              f"({cal['method']}, Brier {cal['brier']:.3f}); ROC AUC {q['cv']['model']['roc_auc']:.3f} "
              f"(tags-only baseline {q['cv']['baseline']['roc_auc']:.3f})", file=sys.stderr)
        self.assertIn("tags-only baseline", d.ctl("status").stdout)
        self.assertEqual(q["threshold"], 0.5)
        self.assertEqual(q["n"], labelled)
        self.assertEqual(st["posts"], labelled)
        self.assertLess(st["flip_rate"], 0.10)
        self.assertLessEqual(cal["ece_floor"], 0.04)  # the bar (0.05) is above what noise alone gives
        self.assertLessEqual(cal["ece"], ECE_BAR)
        self.assertLessEqual(q["cv"]["model"]["ece"], ECE_BAR)


if __name__ == "__main__":
    unittest.main(verbosity=2)
