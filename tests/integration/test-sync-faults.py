#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every fault mode of the fake site during a sync: the sync completes or
fails with one clear line, PRAGMA integrity_check stays ok, and a rerun
without the fault completes with labels equal to the site's lists.
Bad input that must be survived: 5xx, 429, 503 with HTML, malformed JSON,
HTML error pages, truncated/corrupt/huge images, wrong content types,
connection resets, slow and silent servers."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, db_query, fresh_state, site_cache_dir  # noqa: E402
import synccheck  # noqa: E402

IMAGE_SIZE = 96
SEED = 13
API = r"^/(posts|users)"
IMAGES = r"^/data/"

# (mode, path, count, extra): count None = until cleared (the sync must fail
# cleanly or skip the images); a number = a passing hiccup the retries absorb.
CASES = [
    ("500", API, 2, {}),
    ("502", API, 2, {}),
    ("503", API, 2, {}),
    ("429", API, 2, {"retry_after": 1}),
    ("reset", API, 2, {}),
    ("slow", API, None, {"delay_ms": 300}),
    ("timeout", API, 1, {}),
    ("malformed_json", API, None, {}),
    ("html_error", API, None, {}),
    ("500", API, None, {}),
    ("truncated_image", IMAGES, None, {}),
    ("corrupt_image", IMAGES, None, {}),
    ("huge_image", IMAGES, None, {}),
    ("wrong_content_type", IMAGES, None, {}),
    ("reset", IMAGES, 3, {}),
    ("503", IMAGES, 3, {}),
]


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site = FakeSite(seed=SEED, liked=12, disliked=8, both=1, others=10,
                            data_dir=site_cache_dir(SEED)).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def test_every_fault(self):
        config = {"rate_limit": 2, "image_size": IMAGE_SIZE}
        for mode, path, count, extra in CASES:
            with self.subTest(mode=mode, path=path, count=count):
                fresh_state()
                self.site.clear_faults()
                with Fluffd(site=self.site.url, config=config) as d:
                    self.assertEqual(d.login(self.site.user, self.site.api_key).returncode, 0)
                    self.site.fault(mode, count=count, path=path, **extra)
                    t = time.monotonic()
                    r = d.ctl("sync")
                    secs = time.monotonic() - t
                    print(f"{mode:>20} {path:<14} count={count}: rc={r.returncode} {secs:.1f}s "
                          f"{(r.stderr.strip().splitlines() or [''])[-1][:110]}", file=sys.stderr)
                    if r.returncode != 0:
                        self.assertEqual(r.returncode, 1, r)
                        last = r.stderr.strip().splitlines()[-1]
                        self.assertIn("failed:", last)
                        self.assertNotIn(self.site.api_key, r.stderr)
                    synccheck.check_integrity(self)
                    if path == IMAGES and count is None:
                        # The images fail for good and are recorded with a reason.
                        self.assertEqual(r.returncode, 0, r)
                        reasons = db_query("SELECT reason FROM images WHERE state = 'failed'")
                        self.assertTrue(reasons, "no failure recorded")
                        self.assertTrue(all(x[0] for x in reasons))
                    self.site.clear_faults()
                    r = d.ctl("sync")
                    self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-2000:]}")
                    synccheck.check_labels(self, self.site)
                    synccheck.check_integrity(self)
                    self.assertNotIn(self.site.api_key, d.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
