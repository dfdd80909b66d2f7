#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Predict with the image backbone: import the nsfwjs package, sync (the
Embed job follows), train on embeddings and tags, then predict unseen posts:
their crops are embedded on the fly and scored, and the ROC AUC against the
site's hidden truth (part of which only the pixels show) is printed and
clearly above the tags-only level. Skipped (77) when npm cannot fetch the
package.
Bad input that must be survived: a backbone-trained model after the
backbone's file is gone (a clear NoModel-class failure, not zeros)."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "backbone"))
import bbtest  # noqa: E402
from fakesite import FakeSite, roc_auc  # noqa: E402
from fluffd import Fluffd, data_dir, fresh_state, site_cache_dir  # noqa: E402

SEED = 31
QUERY = "-no_such_tag_anywhere"


class PredictBackbone(unittest.TestCase):
    def wait_jobs_idle(self, d, timeout=400):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            jobs = d.ctl("jobs", "--json").json()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                return jobs
            time.sleep(0.5)
        self.fail(f"jobs still running after {timeout}s: {jobs}\n{d.log()[-3000:]}")

    def test_predict_with_backbone(self):
        tgz = bbtest.fetch_package()
        fresh_state()
        with FakeSite(seed=SEED, liked=150, disliked=150, both=0, others=120, rate_limit=0,
                      data_dir=site_cache_dir(SEED)) as site, \
                Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            self.assertEqual(d.ctl("backbone", "import", tgz).returncode, 0)
            self.assertEqual(d.ctl("sync").returncode, 0)
            self.wait_jobs_idle(d)
            r = d.ctl("train", "--time", "30s")
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            self.assertIn("image embeddings and tags", r.stdout)

            t = time.monotonic()
            r = d.ctl("predict", "--count", "100", "--json", "--", QUERY)
            took = time.monotonic() - t
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            rows = r.json()
            self.assertGreater(len(rows), 50)
            truth = site.truth()["posts"]
            auc = roc_auc([x["score"] for x in rows], [truth[str(x["id"])]["like"] for x in rows])
            print(f"predict of {len(rows)} posts with the backbone (download, crop, embed, score): "
                  f"{took:.1f}s; ROC AUC against the site's truth {auc:.3f}", file=sys.stderr)
            self.assertGreater(auc, 0.75)
            for x in rows:
                self.assertTrue(os.path.exists(x["image"]), x)

            # The backbone the model needs is gone: predict fails and says why.
            os.unlink(os.path.join(data_dir(), "models", "backbone.safetensors"))
            d.restart()
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            self.assertFalse((d.status().get("backbone") or {}).get("id"))
            r = d.ctl("predict", "--count", "5", "--", QUERY)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("backbone", r.stderr, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
