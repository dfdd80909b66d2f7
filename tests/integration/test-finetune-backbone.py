#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fine-tuning the backbone's last layer in the Train job, with the image
backbone against the fake site: a budget long enough (>= 90 s) computes
augmented views and runs the fine-tuning stage after the head's (the job's
phase shows it); the job's message reports the validation AUC before and
after when the tuned layer is kept; the model file carries the layer's
tensors or, when it did not help, none; after a restart the model is the
same and predict works with it (its features through the tuned layer).
A short budget does not fine-tune. Skipped (77) when npm cannot fetch the
backbone package.
Bad input that must be survived: a model file with a tuned layer whose
backbone is gone (predict fails with a clear message, as without one)."""
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
from fakesite import FakeSite, roc_auc  # noqa: E402
from fluffd import FLUFFCTL, Fluffd, data_dir, db_query, fresh_state, site_cache_dir  # noqa: E402

SEED = 37
QUERY = "-no_such_tag_anywhere"


def read_safetensors_header(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))


def model_info():
    r = subprocess.run(["busctl", "--user", "get-property", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
                        "io.github.fluffml.Fluff1.Manager", "ModelInfo", "--json=short"],
                       capture_output=True, text=True, timeout=30, check=True)
    return json.loads(json.loads(r.stdout)["data"])


class FinetuneBackbone(unittest.TestCase):
    def wait_jobs_idle(self, d, timeout=400):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            jobs = d.ctl("jobs", "--json").json()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                return jobs
            time.sleep(0.5)
        self.fail(f"jobs still running after {timeout}s: {jobs}\n{d.log()[-3000:]}")

    def train_watching_phases(self, d, budget):
        proc = subprocess.Popen([FLUFFCTL, "train", "--time", budget], env=d.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        phases = []
        while proc.poll() is None:
            for j in d.ctl("jobs", "--json").json():
                if j["kind"] == "train" and j["state"] == "running" and (not phases or phases[-1] != j["phase"]):
                    phases.append(j["phase"])
            time.sleep(0.3)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, f"{out}\n{err}\n{d.log()[-3000:]}")
        return out, phases

    def test_finetune(self):
        tgz = bbtest.fetch_package()
        fresh_state()
        with FakeSite(seed=SEED, liked=45, disliked=45, both=0, others=60, rate_limit=0,
                      data_dir=site_cache_dir(SEED)) as site, \
                Fluffd(site=site.url, config={"rate_limit": 2, "image_size": 224}) as d:
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            self.assertEqual(d.ctl("backbone", "import", tgz).returncode, 0)
            self.assertEqual(d.ctl("sync").returncode, 0)
            self.wait_jobs_idle(d)
            model_path = os.path.join(data_dir(), "models", "taste.safetensors")

            # a short budget: the head alone, no fine-tuning stage
            out, phases = self.train_watching_phases(d, "20s")
            self.assertNotIn("fine-tuning", phases)
            self.assertNotIn("Fine-tuned", out)
            self.assertNotIn("finetune", read_safetensors_header(model_path)["__metadata__"])

            t = time.monotonic()
            out, phases = self.train_watching_phases(d, "90s")
            took = time.monotonic() - t
            print(f"train --time 90s: {took:.1f}s, phases {phases}", file=sys.stderr)
            self.assertIn("fine-tuning", phases, d.log()[-4000:])
            self.assertLess(phases.index("head"), phases.index("fine-tuning"))
            self.assertLess(took, 90 + 30)
            log = d.log()
            views = re.findall(r"Fine-tuning views: (\d+) per image .* of (\d+) images, ([\d.]+) s a round", log)
            tuned = re.findall(r"Fine-tuning (\S+): validation ROC AUC ([\d.]+) with the head alone, ([\d.]+) tuned "
                               r"\((\d+) epochs, ([\d.]+) s per epoch\); keeping the (tuned layer|head alone)", log)
            self.assertTrue(views, log[-3000:])
            self.assertTrue(tuned, log[-3000:])
            node, before, after, epochs, per_epoch, kept = tuned[-1]
            print(f"views: {views[-1][0]} per image of {views[-1][1]} images, {views[-1][2]} s a round; "
                  f"fine-tuning {node}: validation AUC head alone {before}, tuned {after}, {epochs} epochs, "
                  f"{per_epoch} s per epoch; kept: {kept}", file=sys.stderr)
            self.assertGreaterEqual(int(views[-1][0]), 1)
            self.assertGreaterEqual(int(epochs), 1)

            hdr = read_safetensors_header(model_path)
            info = model_info()
            if kept == "tuned layer":
                self.assertGreater(float(after), float(before))
                self.assertIn(f"Fine-tuned {node}: validation ROC AUC", out)
                self.assertIn(f"Fine-tuned:         {node}, validation ROC AUC {float(before):.3f} with the head "
                              f"alone, {float(after):.3f} tuned", out)
                self.assertIn("+ tags, top layer fine-tuned", d.ctl("status", check=True).stdout)
                self.assertEqual(hdr["finetune.weight"]["shape"], [320, 1280])
                self.assertEqual(hdr["finetune.bias"]["shape"], [1280])
                meta = json.loads(hdr["__metadata__"]["finetune"])
                self.assertEqual(meta["set"], "final")
                self.assertEqual(meta["node"], node)
                self.assertAlmostEqual(meta["auc_head"], float(before), places=3)
                self.assertAlmostEqual(meta["auc_finetuned"], float(after), places=3)
                self.assertEqual(info["finetune"]["node"], node)
                self.assertTrue(any(s["name"] == "final" and s["used"] for s in info["feature_sets"]), info)
            else:
                self.assertNotIn("finetune.weight", hdr)
                self.assertNotIn("fine-tuned", d.ctl("status", check=True).stdout)
                self.assertIsNone(info["finetune"])

            # restart: the same model, and predict runs through it
            n_cached = db_query("SELECT COUNT(*) FROM embeddings")[0][0]
            d.restart()
            self.assertEqual(model_info(), info)
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            r = d.ctl("predict", "--count", "40", "--json", "--", QUERY)
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            rows = r.json()
            self.assertGreater(len(rows), 20)
            truth = site.truth()["posts"]
            auc = roc_auc([x["score"] for x in rows], [truth[str(x["id"])]["like"] for x in rows])
            print(f"predict of {len(rows)} unseen posts with the {kept}: ROC AUC against the site's truth "
                  f"{auc:.3f}", file=sys.stderr)
            self.assertGreater(auc, 0.55)  # 40 posts: a sanity bound, the benchmark measures quality
            # the predicted posts' features (tuned or not) are not cached under the backbone's id
            self.assertEqual(db_query("SELECT COUNT(*) FROM embeddings")[0][0], n_cached)

            # the backbone is gone: predict says so
            os.unlink(os.path.join(data_dir(), "models", "backbone.safetensors"))
            d.restart()
            self.assertEqual(d.login(site.user, site.api_key).returncode, 0)
            r = d.ctl("predict", "--count", "5", "--", QUERY)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("backbone", r.stderr, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
