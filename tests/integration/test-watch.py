#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Watched searches end to end through fluffctl on the fake site (tags only).

Before a model: `watch run` exits 75 with one line saying to train (and,
logged out, to log in), so the timer does not fail every hour. Bad input that
must be survived: `watch add` without tags, --threshold outside 0..1, --max 0
or 321, more than 40 tags, AddWatch options of the wrong type or unknown,
RemoveWatch / RunWatches of an unknown id, a non-numeric id.

After `train`: a new watch's first run announces only posts at or above its
threshold, best first, at most its max, never blacklisted, voted or
labelled, crops in $XDG_CACHE_HOME/fluff/watches/; a second run with nothing
new emits no NewPredictions at all; after the site gets new posts (one of
them voted on the site at once), the run emits exactly the new posts the
model scores at or above the threshold (the scores come from a manual
Predict over the same posts, a different code path to the same model), and a
second watch over the same query sees none of the posts the first
announced. A kill -9 while a run downloads its images, then a rerun, loses
nothing: the rerun announces exactly the posts the killed run would have,
and the crops left by the killed run are cleaned up. remove/list."""
import importlib.util
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from synced import SyncedCase  # noqa: E402
from fakesite import image_size  # noqa: E402
from fluffd import db_query, xdg  # noqa: E402

_spec = importlib.util.spec_from_file_location("test_predict", os.path.join(HERE, "test-predict.py"))
_tp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tp)
hidden = _tp.hidden  # the site's blacklist, read in Python

SEED = 31
IMAGE_SIZE = 64
QUERY = "-no_such_tag_anywhere"  # every post, newest first
BUS = ["busctl", "--user", "call", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
       "io.github.fluffml.Fluff1.Manager"]


def watch_dir():
    return os.path.join(xdg("CACHE"), "fluff", "watches")


class Monitor:
    """NewPredictions signals seen while active, as dbus-monitor prints them."""

    def __enter__(self):
        self.proc = subprocess.Popen(["dbus-monitor", "--session", "type='signal',member='NewPredictions'"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)
        self.proc.terminate()
        self.text = self.proc.communicate()[0]
        self.count = self.text.count("member=NewPredictions")


class Watch(SyncedCase):
    SEED, SITE = SEED, dict(liked=100, disliked=100, both=2, others=120, rate_limit=0)
    CONFIG = {"rate_limit": 2, "image_size": IMAGE_SIZE}
    REMEMBER = True

    def busctl(self, *args):
        return subprocess.run(BUS + list(args), capture_output=True, text=True, timeout=30)

    def run_watches(self, *args):
        with Monitor() as mon:
            r = self.ctl("watch", "run", "--json", *args)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        return r.json(), mon

    def watches(self):
        return {w["id"]: w for w in self.ctl("watch", "list", "--json", check=True).json()}

    def check_posts(self, posts, threshold, max_per_run):
        """What every announced post must be, whatever the model thinks."""
        me = self.site.user_state()
        voted = set(me["favorites"]) | set(me["upvotes"]) | set(me["downvotes"])
        dataset = {row[0] for row in db_query("SELECT post_id FROM labels")}
        self.assertLessEqual(len(posts), max_per_run)
        self.assertEqual([p["score"] for p in posts], sorted((p["score"] for p in posts), reverse=True))
        for p in posts:
            self.assertGreaterEqual(p["score"], threshold - 1e-6, p)
            self.assertNotIn(p["id"], voted, p)
            self.assertNotIn(p["id"], dataset, p)
            post = self.site.request("GET", f"/posts/{p['id']}.json").json()["post"]
            self.assertFalse(hidden(post), f"post {p['id']} is blacklisted: {post['tags']}")
            self.assertFalse(post["flags"]["deleted"], p)
            self.assertEqual(os.path.dirname(p["image"]), watch_dir(), p)
            with open(p["image"], "rb") as f:
                self.assertEqual(image_size(f.read()), (IMAGE_SIZE, IMAGE_SIZE), p)

    def model_scores(self):
        """Scores of the newest unlabelled posts by a manual Predict."""
        r = self.ctl("predict", "--count", "320", "--json", "--", QUERY)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        return {p["id"]: p["score"] for p in r.json()}

    def newest_visible(self):
        return self.site.request("GET", f"/posts.json?limit=1&tags={QUERY}").json()["posts"][0]["id"]

    def crops_match_runs(self):
        kept = {row[0] for row in db_query(
            "SELECT p.image_path FROM prediction_posts p JOIN prediction_runs r ON r.id = p.run_id"
            " WHERE r.watch_id IS NOT NULL")}
        on_disk = {os.path.join(watch_dir(), n) for n in os.listdir(watch_dir())}
        self.assertEqual(on_disk, kept)

    def test_1_before_a_model_and_bad_input(self):
        r = self.ctl("--quiet", "watch", "run")
        self.assertEqual(r.returncode, 75, r)
        self.assertIn("train", r.stderr, r)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r)
        self.assertEqual(r.stdout, "", r)

        for args in (["add"], ["add", "canine", "--threshold", "1.5"], ["add", "canine", "--threshold", "x"],
                     ["add", "canine", "--max", "0"], ["add", "canine", "--max", "321"],
                     ["remove"], ["remove", "abc"], ["remove", "0"], ["run", "x"], ["frobnicate"]):
            r = self.ctl("watch", *args)
            self.assertEqual(r.returncode, 2, (args, r))
        r = self.ctl("watch", "add", *[f"t{i}" for i in range(41)])
        self.assertEqual(r.returncode, 2, r)
        self.assertEqual(self.busctl("AddWatch", "sa{sv}", " ".join(f"t{i}" for i in range(41)), "0").returncode,
                         1)
        r = self.ctl("watch", "remove", "999")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no watch 999", r.stderr, r)
        # busctl prints the message only: each names what was wrong.
        for bad, why in ((["AddWatch", "sa{sv}", "canine", "1", "threshold", "s", "high"], "threshold"),
                         (["AddWatch", "sa{sv}", "canine", "1", "threshold", "d", "1.5"], "threshold"),
                         (["AddWatch", "sa{sv}", "canine", "1", "max_per_run", "u", "0"], "max_per_run"),
                         (["AddWatch", "sa{sv}", "canine", "1", "max_per_run", "s", "9"], "max_per_run"),
                         (["AddWatch", "sa{sv}", "canine", "1", "colour", "s", "red"], "Unknown AddWatch option"),
                         (["AddWatch", "sa{sv}", "   ", "0"], "at least one tag"),
                         (["RunWatches", "a{sv}", "1", "colour", "s", "red"], "Unknown RunWatches option"),
                         (["RunWatches", "a{sv}", "1", "watch", "t", "0"], "watch id")):
            r = self.busctl(*bad)
            self.assertNotEqual(r.returncode, 0, (bad, r))
            self.assertIn(why, r.stderr + r.stdout, (bad, r))
        r = self.busctl("RunWatches", "a{sv}", "1", "watch", "t", "999")
        self.assertIn("no watch 999", r.stderr + r.stdout, r)
        self.assertEqual(self.watches(), {})
        # Without a model the default threshold is an even chance.
        r = self.ctl("watch", "add", "--json", "canine")
        self.assertEqual(r.returncode, 0, r)
        w = self.watches()[r.json()["id"]]
        self.assertEqual((w["tags"], w["threshold"], w["max_per_run"], w["last_seen_id"], w["last_run_usec"]),
                         ("canine", 0.5, 10, 0, 0))
        self.ctl("watch", "remove", str(r.json()["id"]), check=True)
        self.assertEqual(self.watches(), {})

        # Logged out, a timer run says so in one line and does not fail.
        self.ctl("logout", check=True)
        r = self.ctl("--quiet", "watch", "run")
        self.assertEqual(r.returncode, 75, r)
        self.assertIn("login", r.stderr, r)
        r = self.d.login(self.site.user, self.site.api_key, remember=True)
        self.assertEqual(r.returncode, 0, r)

    def test_2_watch(self):
        r = self.ctl("train", "--time", "10s")
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        threshold = self.d.status()["model"]["threshold"]

        r = self.ctl("watch", "add", "--json", "--", QUERY)
        self.assertEqual(r.returncode, 0, r)
        w1 = r.json()["id"]
        r = self.ctl("watch", "add", "--json", "--threshold", "0", "--max", "1", "--", QUERY)
        self.assertEqual(r.returncode, 0, r)
        w2 = r.json()["id"]
        ws = self.watches()
        self.assertAlmostEqual(ws[w1]["threshold"], threshold, places=5)
        self.assertEqual(ws[w1]["max_per_run"], 10)
        self.assertEqual((ws[w2]["threshold"], ws[w2]["max_per_run"]), (0.0, 1))
        self.assertEqual(ws[w1]["last_seen_id"], 0)

        # First run: the best of the newest posts, bounded.
        got, mon = self.run_watches()
        newest = self.newest_visible()
        by_watch = {g["id"]: g["posts"] for g in got}
        self.assertEqual(mon.count, len(got))
        self.check_posts(by_watch.get(w1, []), threshold, 10)
        self.check_posts(by_watch.get(w2, []), 0.0, 1)
        self.assertEqual(len(by_watch.get(w2, [])), 1)  # threshold 0: something is always there
        self.assertFalse({p["id"] for p in by_watch.get(w1, [])} & {p["id"] for p in by_watch[w2]})
        for g in got:
            for p in g["posts"]:
                self.assertIn(f"uint64 {p['id']}", mon.text)
        ws = self.watches()
        self.assertEqual(ws[w1]["last_seen_id"], int(newest))
        self.assertGreater(ws[w1]["last_run_usec"], 0)
        self.crops_match_runs()

        # Nothing new: nothing announced.
        got, mon = self.run_watches()
        self.assertEqual(got, [])
        self.assertEqual(mon.count, 0, mon.text)
        r = self.ctl("watch", "run")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("No new posts", r.stdout, r)

        # New posts; the user votes on one on the site before any run sees it.
        new = self.site.add_posts(40)
        self.site.user_vote(new[0], 1)
        got, mon = self.run_watches()
        by_watch = {g["id"]: g["posts"] for g in got}
        self.assertEqual(mon.count, len(got))
        scores = self.model_scores()
        eligible = sorted((i for i in new if i in scores), key=lambda i: (-scores[i], i))
        self.assertNotIn(new[0], eligible)
        expected1 = [i for i in eligible if scores[i] >= threshold][:10]
        print(f"{len(new)} new posts, {len(eligible)} eligible, {len(expected1)} at or above "
              f"{threshold:.3f}", file=sys.stderr)
        self.assertTrue(expected1, "the test needs new posts above the threshold")
        self.assertLess(len(expected1), len(eligible), "and some below it")
        self.assertEqual([p["id"] for p in by_watch.get(w1, [])], expected1)
        for p in by_watch[w1]:
            self.assertAlmostEqual(p["score"], scores[p["id"]], places=5)
        self.check_posts(by_watch[w1], threshold, 10)
        # The second watch gets the best post the first did not announce.
        rest = [i for i in eligible if i not in expected1]
        self.assertEqual([p["id"] for p in by_watch.get(w2, [])], rest[:1])
        self.assertEqual(self.watches()[w1]["last_seen_id"], self.newest_visible())
        self.crops_match_runs()

        # kill -9 while the run downloads its images, then a rerun.
        more = self.site.add_posts(20)
        before = self.watches()[w1]["last_seen_id"]
        self.site.fault("slow", path=r"^/data/", delay_ms=1500)
        proc = subprocess.Popen(["timeout", "60", os.path.join(os.environ.get("FLUFF_BUILD_DIR", "build"),
                                                               "client", "fluffctl"), "watch", "run"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline, downloading = time.monotonic() + 30, False
        while not downloading and time.monotonic() < deadline:
            r = self.ctl("jobs", "--json")
            jobs = json.loads(r.stdout) if r.returncode == 0 else []
            downloading = any(j["kind"] == "watch" and j["state"] == "running" and j["phase"] == "images"
                              for j in jobs)
            time.sleep(0.2)
        self.assertTrue(downloading, "the run never got to its images")
        time.sleep(0.5)
        self.d.kill()
        proc.wait()
        self.site.clear_faults()
        self.d.start()
        self.assertEqual(self.watches()[w1]["last_seen_id"], before, "the killed run committed nothing")
        got, mon = self.run_watches()
        by_watch = {g["id"]: g["posts"] for g in got}
        scores = self.model_scores()
        eligible = sorted((i for i in more if i in scores), key=lambda i: (-scores[i], i))
        expected1 = [i for i in eligible if scores[i] >= threshold][:10]
        self.assertEqual([p["id"] for p in by_watch.get(w1, [])], expected1)
        self.assertEqual([p["id"] for p in by_watch.get(w2, [])],
                         [i for i in eligible if i not in expected1][:1])
        self.assertEqual(self.watches()[w1]["last_seen_id"], self.newest_visible())
        self.crops_match_runs()

        # A manual Predict keeps the watch runs (and their crops).
        runs = db_query("SELECT count(*) FROM prediction_runs WHERE watch_id IS NOT NULL")[0][0]
        self.assertGreaterEqual(runs, 4)
        self.crops_match_runs()

        # As a person reads it: the posts per watch, under the job's summary.
        self.site.add_posts(10)
        r = self.ctl("watch", "run")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(f'Watch {w2} "{QUERY}": 1 new post\n', r.stdout)
        self.assertIn("SCORE", r.stdout)
        self.assertRegex(r.stdout, r"2 watches, \d+ new posts? above threshold")

        # remove / list
        self.ctl("watch", "remove", str(w2), check=True)
        self.assertEqual(list(self.watches()), [w1])
        r = self.ctl("watch", "remove", str(w2))
        self.assertEqual(r.returncode, 1, r)
        r = self.ctl("watch", "list")
        self.assertIn(QUERY, r.stdout)
        got, mon = self.run_watches(str(w1))
        self.assertEqual(got, [])
        r = self.ctl("watch", "run", str(w2))
        self.assertEqual(r.returncode, 1, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
