#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A model the user can trust and forget about (issue 14), end to end against
the fake site, with fluff-watch.service's command (`fluffctl refresh`):

- every training joins the history (`model list`), its file under
  models/history/, the installed one hard-linked as taste.safetensors;
- new votes on the site: the next refresh syncs them newest first, stopping at
  known posts, in one page per list where a full sync walks every page (the
  site's requests are counted);
- past the retrain trigger the refresh starts a training by itself, at nice 19,
  and its model is installed;
- a deliberately worse model (labels flipped on the site, then a full sync) is
  kept aside with the reason in `status`, the old one stays; an ablation too;
- the install margin weighs both models on the posts labelled since the
  installed one was trained (a taste that turned: the new model is installed
  where the old numbers would have kept it aside), and says when too few new
  posts make it fall back to each model's own number;
- `model use` rolls back, `model remove` refuses the installed one; past
  model_keep the oldest go, never the installed one;
- nothing runs twice at once (a refresh while a sync runs, an automatic
  retraining while a training runs);
- kill -9 during an automatic retraining leaves the installed model in
  place, byte for byte, and no half-written file; the next refresh retrains;
- announcements and votes on them make the feedback record's precision;
- not on battery: with UPower (a stand-in) saying OnBattery, no retraining
  starts, and it does once on mains power."""
import json
import math
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from synced import SyncedCase  # noqa: E402
from fluffd import BUILD, data_dir  # noqa: E402

PAGE = 16
BUS = ["busctl", "--user", "call", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
       "io.github.fluffml.Fluff1.Manager"]


def models_dir():
    return os.path.join(data_dir(), "models")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def pages(n):
    """Requests a full walk of a list of n posts makes with PAGE-post pages."""
    return n // PAGE + 1


class Lifecycle(SyncedCase):
    SEED = 31
    SITE = dict(liked=60, disliked=60, both=0, others=30, rate_limit=0)
    REMEMBER = True  # a kill -9 and restart keep the login
    CONFIG = {"rate_limit": 2, "image_size": 64, "sync_page_size": PAGE, "retrain_changes": 10,
              "retrain_budget": "20s", "model_install_margin": 0.15}

    def models(self):
        return {m["id"]: m for m in self.ctl("model", "list", "--json", check=True).json()}

    def installed(self):
        ms = [m for m in self.models().values() if m["state"] == "installed"]
        self.assertEqual(len(ms), 1, ms)
        return ms[0]

    def refresh_info(self):
        r = subprocess.run(BUS + ["RefreshInfo", "--json=short"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        return json.loads(json.loads(r.stdout)["data"][0])

    def wait_jobs_idle(self, timeout=180):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            jobs = self.ctl("jobs", "--json", check=True).json()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                return jobs
            time.sleep(0.3)
        self.fail(f"jobs still running after {timeout}s: {jobs}\n{self.d.log()[-3000:]}")

    def wait_job(self, kind, states, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for j in self.ctl("jobs", "--json", check=True).json():
                if j["kind"] == kind and j["state"] in states:
                    return j
            time.sleep(0.2)
        self.fail(f"no {kind} job in {states} after {timeout}s\n{self.d.log()[-3000:]}")

    def refresh(self, *args):
        r = self.ctl("refresh", *args)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        return r

    def test_1_history(self):
        r = self.ctl("train", "--time", "10s")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Installed as model 1.", r.stdout)
        m = self.installed()
        self.assertEqual(m["id"], 1)
        self.assertEqual(m["trigger"], "manual")
        self.assertEqual(m["labels"], m["liked"] + m["disliked"])
        self.assertGreaterEqual(m["labels"], 90)  # a few of the 120 are animated: skipped
        self.assertEqual(m["towers"], "both")  # what was asked for
        # what the model uses: cross-validation chooses the combination of the towers
        self.assertIn(m["info"]["towers"], ("both", "tags", "image"))
        hist = os.path.join(models_dir(), "history", "1.safetensors")
        self.assertTrue(os.path.samefile(hist, os.path.join(models_dir(), "taste.safetensors")))
        r = self.ctl("model", "show", "1")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("installed", r.stdout)
        self.assertEqual(self.ctl("model", "show", "99").returncode, 1)
        self.assertEqual(self.ctl("model", "use", "x").returncode, 2)

    def test_2_incremental_sync(self):
        before = self.d.status()["counts"]
        user = self.site.user_state()
        full_walk = pages(len(user["favorites"])) + pages(len(user["upvotes"])) + pages(len(user["downvotes"]))
        new = self.site.add_voted_posts(3)
        self.site.reset_stats()
        r = self.refresh()
        self.assertIn("No retraining", r.stdout)  # 3 changes < 10
        searches = self.site.stats()["requests"].get("GET /posts.json", 0)
        print(f"incremental refresh: {searches} searches; a full sync walks {full_walk}", file=sys.stderr)
        self.assertLessEqual(searches, 3)  # one page per list
        self.assertGreater(full_walk, 2 * searches)
        after = self.d.status()["counts"]
        self.assertEqual(after["liked"] + after["disliked"], before["liked"] + before["disliked"] + len(new))
        info = self.refresh_info()
        self.assertEqual(info["sync"]["mode"], "incremental")
        self.assertEqual(info["sync"]["trigger"], "timer")
        self.assertEqual(info["retrain"]["changed"], 3)
        self.assertFalse(info["retrain"]["due"])

    def test_3_retrains_by_itself(self):
        self.site.add_voted_posts(10)
        r = self.refresh()
        self.assertIn("Retraining in the background", r.stdout)
        self.wait_jobs_idle()
        m = self.installed()
        self.assertEqual(m["id"], 2, self.models())
        self.assertEqual(m["trigger"], "automatic")
        info = self.refresh_info()
        self.assertEqual(info["train"]["trigger"], "automatic")
        self.assertEqual(info["retrain"]["changed"], 0)
        status = self.ctl("status")
        self.assertIn("Last trained:", status.stdout)

    def test_4_worse_model_kept_aside(self):
        # Honest metrics (the CNN cross-fitted, issue 14): on these 120
        # posts the installed model reports about 0.66, and a model of coin
        # flips 0.5-0.6 (the best of the combinations on its folds), less
        # than the configured margin below it. So no margin here: the worse
        # model must not beat the installed one outright.
        self.d.config["model_install_margin"] = 0.0
        self.d.restart()
        self.site.flip_labels(0.5, seed=4)
        # flips on old posts are seen by a full sync (the daily one)
        self.assertEqual(self.ctl("sync").returncode, 0)
        self.refresh()
        self.wait_jobs_idle()
        ms = self.models()
        self.assertEqual(self.installed()["id"], 2, ms)
        self.assertEqual(ms[3]["state"], "aside", ms)
        self.assertIn("worse than the installed model", ms[3]["reason"])
        self.assertIn("Kept aside", self.ctl("status").stdout)
        # an ablation is kept aside too, unless installed on purpose
        r = self.ctl("train", "--towers", "tags", "--time", "5s")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.models()[4]["state"], "aside")
        self.assertEqual(self.installed()["id"], 2)
        self.d.config["model_install_margin"] = self.CONFIG["model_install_margin"]
        self.d.restart()

    def test_5_rollback(self):
        self.assertEqual(self.ctl("model", "use", "1").returncode, 0)
        self.assertEqual(self.installed()["id"], 1)
        self.assertEqual(self.models()[2]["state"], "previous")
        self.assertEqual(self.d.status()["model"]["created"], self.models()[1]["info"]["created"])
        self.assertTrue(os.path.samefile(os.path.join(models_dir(), "history", "1.safetensors"),
                                         os.path.join(models_dir(), "taste.safetensors")))
        r = self.ctl("model", "remove", "1")
        self.assertEqual(r.returncode, 75, r)  # Busy: install another first
        self.assertIn("installed", r.stderr)
        self.assertEqual(self.ctl("model", "remove", "4").returncode, 0)
        self.assertNotIn(4, self.models())
        self.assertFalse(os.path.exists(os.path.join(models_dir(), "history", "4.safetensors")))
        # a restart keeps the choice
        self.d.restart()
        self.assertEqual(self.installed()["id"], 1)
        self.assertEqual(self.d.status()["model"]["created"], self.models()[1]["info"]["created"])

    def test_6_nothing_twice(self):
        r = self.ctl("train", "--time", "20s", "--no-wait")
        self.assertEqual(r.returncode, 0, r)
        self.wait_job("train", ("running",))
        r = subprocess.run(BUS + ["AutoRetrain", "a{sv}", "0"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('"/"', r.stdout)
        self.assertIn("another job is running", r.stdout)
        r = self.ctl("train", "--time", "5s")
        self.assertNotEqual(r.returncode, 0, r)  # Busy
        self.wait_jobs_idle()
        r = self.ctl("sync", "--no-wait")
        self.assertEqual(r.returncode, 0, r)
        r = self.ctl("refresh")
        self.assertEqual(r.returncode, 75, r)  # the timer's run: not a failure
        self.wait_jobs_idle()

    def test_7_kill_during_automatic_retraining(self):
        self.site.add_voted_posts(12)
        before = read_bytes(os.path.join(models_dir(), "taste.safetensors"))
        created = self.d.status()["model"]["created"]
        installed = self.installed()["id"]
        r = self.refresh()
        self.assertIn("Retraining in the background", r.stdout)
        self.wait_job("train", ("running",))
        time.sleep(3)
        # its worker runs at the lowest priority: nice 19
        nices = []
        for tid in os.listdir(f"/proc/{self.d.pid}/task"):
            with open(f"/proc/{self.d.pid}/task/{tid}/stat") as f:
                nices.append(int(f.read().rsplit(")", 1)[1].split()[16]))
        self.assertIn(19, nices, nices)
        self.d.kill()
        self.assertEqual(read_bytes(os.path.join(models_dir(), "taste.safetensors")), before)
        self.d.start()
        self.assertEqual(self.d.status()["model"]["created"], created)
        self.assertEqual(self.installed()["id"], installed)
        leftovers = [f for f in os.listdir(os.path.join(models_dir(), "history")) if not f[0].isdigit()]
        self.assertEqual(leftovers, [])
        info = self.refresh_info()
        self.assertTrue(info["retrain"]["interrupted"])
        # resumable: the next timer run starts it again
        r = self.refresh()
        self.assertIn("last automatic retraining was stopped", r.stdout)
        self.wait_jobs_idle()
        self.assertFalse(self.refresh_info()["retrain"]["interrupted"])

    def test_8_feedback(self):
        # a watch announces; votes on its posts make the precision
        r = self.ctl("watch", "add", "rating:s", "--threshold", "0", "--max", "4")
        self.assertEqual(r.returncode, 0, r)
        r = self.ctl("watch", "run", "--json")
        self.assertEqual(r.returncode, 0, r)
        posts = [p["id"] for w in r.json() for p in w["posts"]]
        self.assertGreater(len(posts), 1, r.stdout)
        self.assertEqual(self.ctl("like", str(posts[0])).returncode, 0)
        self.assertEqual(self.ctl("dislike", str(posts[1])).returncode, 0)
        fb = self.refresh_info()["feedback"]
        self.assertEqual(fb["announced"], len(posts))
        self.assertEqual((fb["liked"], fb["disliked"]), (1, 1))
        self.assertTrue(math.isclose(fb["precision"], 0.5))
        self.assertIn("50% liked", self.ctl("status").stdout)

    def upower(self, on_battery):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=os.environ["DBUS_SESSION_BUS_ADDRESS"])
        p = subprocess.Popen([os.path.join(BUILD, "tests", "fake-upower"), "true" if on_battery else "false"],
                             env=env, stdout=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline().strip(), "ready")
        return p

    def test_9_not_on_battery(self):
        self.d.stop()
        self.d.extra_env["DBUS_SYSTEM_BUS_ADDRESS"] = os.environ["DBUS_SESSION_BUS_ADDRESS"]
        self.d.start()
        self.site.add_voted_posts(12)
        p = self.upower(True)
        try:
            r = self.refresh()
            self.assertIn("on battery", r.stdout)
            self.assertTrue(self.refresh_info()["retrain"]["due"])
        finally:
            p.kill()
            p.wait()
        p = self.upower(False)
        try:
            r = self.refresh()
            self.assertIn("Retraining in the background", r.stdout)
            self.wait_jobs_idle()
        finally:
            p.kill()
            p.wait()

    def test_9b_weighed_on_the_current_data(self):
        """The install margin weighs both models on the same, current data:
        the posts labelled since the installed model was trained, which it
        never saw, scored by it and by the new model out of fold. Here the
        user's taste turned: every new post is voted against the old taste.
        The installed model's own cross-validated ROC AUC came from the old
        data; the new one's, over old and new posts, is far lower, so the old
        rule (one model's number on its data against the other's on other
        data) kept the new model aside and served a model that is wrong on
        everything the user voted lately. On the new posts the new model is
        the better one, and it is installed."""
        # The default margin, and the history's best-rated model installed:
        # its own number comes from the clean labels before test_4 flipped half.
        self.d.config["model_install_margin"] = margin = 0.02
        self.d.restart()
        best = max((m for m in self.models().values() if m["towers"] == "both" and m["roc_auc"] is not None),
                   key=lambda m: m["roc_auc"])
        self.assertEqual(self.ctl("model", "use", str(best["id"])).returncode, 0)
        installed = self.installed()
        new = self.site.add_voted_posts(120)
        up = set(self.site.user_state()["upvotes"])
        for i in new:
            self.site.user_vote(i, -1 if i in up else 1)
        self.assertEqual(self.ctl("sync").returncode, 0)
        r = self.ctl("train", "--time", "10s")
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        ms = self.models()
        newest = ms[max(ms)]
        m = re.search(r"Weighed on the (\d+) posts labelled since the installed model was trained: "
                      r"ROC AUC ([0-9.]+) out of fold against its ([0-9.]+)\.", r.stdout)
        print(f"taste turned on {len(new)} new posts: installed model {installed['id']} (own cross-validated "
              f"ROC AUC {installed['roc_auc']:.3f}), new model {newest['id']} ({newest['roc_auc']:.3f}); "
              f"{m.group(0) if m else r.stdout}", file=sys.stderr)
        self.assertIsNotNone(m, r.stdout)
        n, auc_new, auc_old = int(m.group(1)), float(m.group(2)), float(m.group(3))
        self.assertGreaterEqual(n, 100)  # a few new posts are animated: skipped
        # the old rule would have decided wrongly: the recorded numbers are more than the margin apart
        self.assertLess(newest["roc_auc"], installed["roc_auc"] - margin)
        # on the same posts the new model is the better one, and it is installed
        self.assertGreater(auc_new, auc_old)
        self.assertEqual(newest["state"], "installed", ms)
        self.assertIn("Weighed on the", self.ctl("status").stdout)

    def test_9c_too_few_new_posts(self):
        """With fewer than 50 posts new to the installed model, their ROC AUC
        is too noisy to weigh: each model's own cross-validated number decides,
        and the message says so."""
        self.site.add_voted_posts(5)
        self.assertEqual(self.ctl("sync").returncode, 0)
        r = self.ctl("train", "--time", "5s")
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        self.assertIn("Weighed by each model's own cross-validated ROC AUC (on different data): only ", r.stdout)
        self.assertIn("50 with 10 of each are needed", r.stdout)

    def test_9d_prune(self):
        """Past config model_keep a training's end forgets the oldest models,
        records and files (on a worker: at 100,000 labels a record's rows take
        0.1-0.2 s to delete), never the installed one. It prunes before the
        new model is installed, so the model it replaces stays for a
        rollback until the next training."""
        before = sorted(self.models())
        installed = self.installed()["id"]
        self.assertGreater(len(before), 3)
        self.d.config["model_keep"] = 2
        self.d.restart()
        r = self.ctl("train", "--time", "5s")
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        ms = self.models()
        new = max(ms)
        self.assertGreater(new, before[-1])
        self.assertEqual(set(ms), {new, before[-1], installed}, ms)
        for i in set(before) | {new}:
            path = os.path.join(models_dir(), "history", f"{i}.safetensors")
            self.assertEqual(os.path.exists(path), i in ms, path)
        self.d.config.pop("model_keep")
        self.d.restart()


if __name__ == "__main__":
    unittest.main(verbosity=2)
