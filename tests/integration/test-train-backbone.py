#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Train job with the image backbone: import the nsfwjs package, sync (the
Embed job follows), train; the model names the backbone, uses image feature
sets beside the tags, survives a restart, and `status` says it uses the
backbone. Skipped (77) when npm cannot fetch the package.
Bad input that must be survived: training while some posts have no
embedding yet (they are left out and counted, never given zeros)."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "backbone"))
import bbtest  # noqa: E402
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, db_query, fresh_state, site_cache_dir  # noqa: E402

SEED = 29


def model_info():
    r = subprocess.run(["busctl", "--user", "get-property", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
                        "io.github.fluffml.Fluff1.Manager", "ModelInfo", "--json=short"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
    return json.loads(r.stdout)["data"]


class TrainBackbone(unittest.TestCase):
    def wait_jobs_idle(self, d, timeout=400):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            jobs = d.ctl("jobs", "--json").json()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                return jobs
            time.sleep(0.5)
        self.fail(f"jobs still running after {timeout}s: {jobs}\n{d.log()[-3000:]}")

    def test_train_with_backbone(self):
        tgz = bbtest.fetch_package()
        fresh_state()
        with FakeSite(seed=SEED, liked=150, disliked=150, both=0, others=5,
                      data_dir=site_cache_dir(SEED)) as site, \
                Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            r = d.ctl("backbone", "import", tgz)
            self.assertEqual(r.returncode, 0, r)
            bb = d.status()["backbone"]["id"]
            self.assertTrue(bb)
            t = time.monotonic()
            self.assertEqual(d.ctl("sync").returncode, 0)
            self.wait_jobs_idle(d)
            print(f"sync + embed of {d.status()['counts']['images']} images: {time.monotonic() - t:.1f}s",
                  file=sys.stderr)

            # One post loses its embedding: it is left out and counted.
            md5 = db_query("SELECT md5 FROM images WHERE state = 'ok' LIMIT 1")[0][0]
            d.stop()
            import sqlite3
            from fluffd import db_path
            con = sqlite3.connect(db_path())
            n_deleted = con.execute("DELETE FROM embeddings WHERE md5 = ?", (md5,)).rowcount
            con.commit()
            con.close()
            self.assertGreater(n_deleted, 0)
            d.start()

            t = time.monotonic()
            r = d.ctl("train", "--time", "20s")
            took = time.monotonic() - t
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            self.assertIn("image embeddings and tags", r.stdout)
            self.assertIn("1 posts without an image embedding left out", r.stdout)
            self.assertIn(f"image backbone {bb[:12]} + tags", r.stdout)
            info = json.loads(model_info())
            self.assertEqual(info["backbone"], bb)
            self.assertTrue(any(s["used"] for s in info["feature_sets"]), info)
            print(f"train --time 20s with the backbone: {took:.1f}s, validation ROC AUC "
                  f"{info['metrics']['roc_auc']:.3f}, sets used "
                  f"{[s['name'] for s in info['feature_sets'] if s['used']]}, tags {info['use_tags']}",
                  file=sys.stderr)
            self.assertGreater(info["metrics"]["roc_auc"], 0.6, info)
            out = d.ctl("status", check=True).stdout
            self.assertIn(f"image backbone {bb[:12]} + tags", out)

            before = model_info()
            d.restart()
            self.assertEqual(model_info(), before)

            # Issue 16: past train_image_posts the older posts still train
            # the tag tower, on their tags; the image towers and the scores
            # are the newest posts' with an image.
            first = [int(x) for x in re.search(r"Trained on (\d+) liked and (\d+) disliked", r.stdout).groups()]
            d.stop()
            d.config["train_image_posts"] = 120
            d.start()
            r = d.ctl("train", "--time", "10s", "--install")
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            older = re.search(r"(\d+) older posts beyond train_image_posts on their tags only", r.stdout)
            self.assertIsNotNone(older, r.stdout)
            again = [int(x) for x in re.search(r"Trained on (\d+) liked and (\d+) disliked", r.stdout).groups()]
            # every post trains (the one without an embedding too, when it is among the older)
            self.assertGreaterEqual(sum(again), sum(first))
            self.assertGreater(int(older.group(1)), 100)
            info = json.loads(model_info())
            self.assertLessEqual(info["quality"]["n"], 120, info["quality"])
            self.assertEqual(sum(again) - info["quality"]["n"], int(older.group(1)), r.stdout)
            self.assertIn("The tag tower and the baseline learn from", d.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
