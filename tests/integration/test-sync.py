#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sync against the fake site, end to end through fluffctl: labels equal the
site's lists, counts follow, every crop is a square JPEG of image_size, a
second sync downloads nothing, changes on the site arrive (a removed vote
loses its label), one sync at a time, cancel stops the job, and the site saw
polite traffic with the key in no URL, log line or property.
Bad input that must be survived: a second Sync while one runs, cancelling a
finished job, unknown Sync options."""
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fakesite import FakeSite  # noqa: E402
from fluffd import (Fluffd, SignalRecorder, bus_properties_dump, files_containing,  # noqa: E402
                    fresh_state, max_per_second, site_cache_dir)
import synccheck  # noqa: E402

IMAGE_SIZE = 160
SEED = 11


class Sync(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site = FakeSite(seed=SEED, liked=40, disliked=30, both=3, others=30,
                            data_dir=site_cache_dir(SEED)).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def setUp(self):
        fresh_state()
        self.d = Fluffd(site=self.site.url, config={"rate_limit": 2, "image_size": IMAGE_SIZE})
        self.d.start()
        r = self.d.login(self.site.user, self.site.api_key)
        self.assertEqual(r.returncode, 0, r)
        self.site.reset_stats()
        self.site.clear_faults()

    def tearDown(self):
        self.d.__exit__(None, None, None)

    def sync(self, *args):
        t = time.monotonic()
        r = self.d.ctl("sync", *args)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        return r, time.monotonic() - t

    def test_sync_then_changes(self):
        with SignalRecorder() as rec:
            r, secs = self.sync()
        print(f"first sync: {secs:.1f}s", file=sys.stderr)
        # Progress is announced at most ~10 times a second, however fast the
        # images finish; a state change may be sent at once.
        changes = rec.times("PropertiesChanged", "/io/github/fluffml/Fluff1/job/")
        self.assertGreater(len(changes), 3)
        self.assertLessEqual(max_per_second(changes), 12, changes)
        self.assertEqual(len(rec.times("Finished", "/io/github/fluffml/Fluff1/job/")), 1)
        self.assertIn("Synced", r.stdout)
        expected = synccheck.check_labels(self, self.site)
        status = self.d.status()
        synccheck.check_status_counts(self, status, expected)
        self.assertGreater(expected["liked"], 20)
        self.assertGreater(expected["disliked"], 15)
        n = synccheck.check_images(self, IMAGE_SIZE)
        self.assertEqual(status["counts"]["images"], n)
        self.assertEqual(n + status["counts"]["failed"], expected["liked"] + expected["disliked"])
        synccheck.check_integrity(self)
        synccheck.check_site_manners(self, self.site, self.site.api_key)
        blacklist = [row[0] for row in __import__("fluffd").db_query("SELECT rule FROM blacklist")]
        self.assertTrue(blacklist, "the blacklist was not stored")

        # Nothing new: nothing downloaded.
        self.site.reset_stats()
        self.sync()
        self.assertEqual(synccheck.images_served(self.site), 0)
        synccheck.check_labels(self, self.site)

        # Changes on the site: new favourite, new upvote, new downvote, and a
        # removed upvote and favourite.
        new = self.site.add_posts(3)
        state = self.site.user_state()
        gone_up = next(i for i in state["upvotes"] if i not in state["favorites"])
        gone_fav = next(i for i in state["favorites"] if i not in state["upvotes"])
        self.site.user_favorite(new[0], True)
        self.site.user_vote(new[1], 1)
        self.site.user_vote(new[2], -1)
        self.site.user_vote(gone_up, 0)
        self.site.user_favorite(gone_fav, False)
        self.site.reset_stats()
        self.sync()
        expected = synccheck.check_labels(self, self.site)
        synccheck.check_status_counts(self, self.d.status(), expected)
        skipped = {row[0] for row in __import__("fluffd").db_query("SELECT post_id FROM skipped")}
        fresh = [i for i in new if i not in skipped]
        self.assertLessEqual(synccheck.images_served(self.site), len(fresh))
        synccheck.check_images(self, IMAGE_SIZE)
        synccheck.check_site_manners(self, self.site, self.site.api_key)

        jobs = self.d.ctl("jobs", "--json").json()
        self.assertEqual([j["state"] for j in jobs], ["done"] * 3)
        self.assertNotIn(self.site.api_key, self.d.log())
        self.assertNotIn(self.site.api_key, bus_properties_dump())
        # Not remembered: no file at all holds the key (database, crops, config).
        self.assertEqual(files_containing(os.environ["FLUFF_TEST_ROOT"], self.site.api_key), [])

    def test_one_at_a_time_and_cancel(self):
        # Slow the site so the sync is surely still running.
        self.site.fault("slow", delay_ms=1500, path=r"^/posts\.json")
        r = self.d.ctl("sync", "--no-wait", "--json")
        self.assertEqual(r.returncode, 0, r)
        path = r.json()["path"]
        self.assertTrue(path.startswith("/io/github/fluffml/Fluff1/job/"), r)
        self.assertEqual(int(path.rsplit("/", 1)[1]), r.json()["id"])
        second = self.d.ctl("sync", "--no-wait")
        self.assertEqual(second.returncode, 75, second)  # EX_TEMPFAIL: wait for the running one
        self.assertIn("already running", second.stderr)
        self.assertTrue(self.d.status()["jobs"])
        job_id = path.rsplit("/", 1)[1]
        t = time.monotonic()
        r = self.d.ctl("cancel", job_id)
        self.assertEqual(r.returncode, 0, r)
        jobs = self.d.ctl("jobs", "--json").json()
        self.assertEqual(jobs[0]["state"], "cancelled", jobs)
        self.assertLess(time.monotonic() - t, 2)
        again = self.d.ctl("cancel", job_id)
        self.assertEqual(again.returncode, 1, again)
        synccheck.check_integrity(self)
        self.site.clear_faults()
        self.sync()
        synccheck.check_labels(self, self.site)

    def test_ctrl_c_cancels(self):
        self.site.fault("slow", delay_ms=1500, path=r"^/posts\.json")
        proc = subprocess.Popen([__import__("fluffd").FLUFFCTL, "sync"], env=self.d.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        proc.send_signal(2)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 130, (out, err))  # 128 + SIGINT, as a shell reports it
        self.assertIn("cancelled", err)
        jobs = self.d.ctl("jobs", "--json").json()
        self.assertEqual(jobs[0]["state"], "cancelled", jobs)

    def test_unknown_option(self):
        r = subprocess.run(["busctl", "--user", "call", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
                            "io.github.fluffml.Fluff1.Manager", "Sync", "a{sv}", "1", "bogus", "b", "true"],
                           capture_output=True, text=True, env=self.d.env())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bogus", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
