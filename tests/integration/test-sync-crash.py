#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kill -9 of fluffd in the middle of a sync (during the list walk, then
during the images), restart, sync again: the same final state as an
uninterrupted sync, a sound database and no partial file under images/.
Bad input that must be survived: a database and image folder left by a
killed process, a crop file written but never recorded."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, data_dir, db_query, fresh_state, site_cache_dir  # noqa: E402
import synccheck  # noqa: E402

IMAGE_SIZE = 128
SEED = 12


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


class Crash(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site = FakeSite(seed=SEED, liked=60, disliked=40, both=2, others=20,
                            data_dir=site_cache_dir(SEED)).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def run_kill_cycle(self, when):
        fresh_state()
        config = {"rate_limit": 2, "image_size": IMAGE_SIZE, "download_concurrency": 2}
        with Fluffd(site=self.site.url, config=config) as d:
            self.assertEqual(d.login(self.site.user, self.site.api_key, remember=True).returncode, 0)
            if when == "lists":
                self.site.fault("slow", delay_ms=700, path=r"^/posts\.json")
            else:
                self.site.fault("slow", delay_ms=150, path=r"^/data/")
            # A client waiting on the job must not hang when fluffd dies.
            import subprocess
            from fluffd import FLUFFCTL
            waiting = subprocess.Popen([FLUFFCTL, "sync"], env=d.env(), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
            if when == "lists":
                ok = wait_for(lambda: os.path.exists(os.path.join(data_dir(), "fluff.db")) and
                              db_query("SELECT COUNT(*) FROM labels")[0][0] > 0)
            else:
                ok = wait_for(lambda: len(os.listdir(os.path.join(data_dir(), "images"))) >= 5)
            self.assertTrue(ok, f"the sync never reached the {when}")
            d.kill()
            out, err = waiting.communicate(timeout=30)
            self.assertEqual(waiting.returncode, 1, (out, err))
            self.assertIn("fluffd stopped before the job finished", err)
            self.site.clear_faults()
            synccheck.check_integrity(self)

            d.start()
            self.assertTrue(d.status()["logged_in"])
            r = d.ctl("sync")
            self.assertEqual(r.returncode, 0, f"{r!r}\n{d.log()[-3000:]}")
            expected = synccheck.check_labels(self, self.site)
            status = d.status()
            synccheck.check_status_counts(self, status, expected)
            n = synccheck.check_images(self, IMAGE_SIZE)
            self.assertEqual(n, status["counts"]["images"])
            self.assertEqual(status["counts"]["failed"], 0)
            self.assertEqual(n, expected["liked"] + expected["disliked"])
            synccheck.check_integrity(self)
            return status["counts"]

    def test_kill_during_lists(self):
        self.run_kill_cycle("lists")

    def test_kill_during_images(self):
        counts = self.run_kill_cycle("images")
        # Interrupted or not, the same dataset.
        fresh_state()
        with Fluffd(site=self.site.url, config={"rate_limit": 2, "image_size": IMAGE_SIZE}) as d:
            self.assertEqual(d.login(self.site.user, self.site.api_key).returncode, 0)
            self.assertEqual(d.ctl("sync").returncode, 0)
            clean = d.status()["counts"]
        for k in ("liked", "disliked", "conflicts", "images", "skipped", "failed"):
            self.assertEqual(counts[k], clean[k], k)

    def test_unrecorded_crop_is_not_downloaded_again(self):
        fresh_state()
        config = {"rate_limit": 2, "image_size": IMAGE_SIZE}
        with Fluffd(site=self.site.url, config=config) as d:
            self.assertEqual(d.login(self.site.user, self.site.api_key, remember=True).returncode, 0)
            self.assertEqual(d.ctl("sync").returncode, 0)
            d.stop()
            # As if killed between writing a crop and recording it, with a
            # temporary file of another crop left behind.
            md5 = db_query("SELECT md5 FROM images WHERE state = 'ok' LIMIT 1")[0][0]
            import sqlite3
            con = sqlite3.connect(os.path.join(data_dir(), "fluff.db"))
            con.execute("DELETE FROM images WHERE md5 = ?", (md5,))
            con.commit()
            con.close()
            junk = os.path.join(data_dir(), "images", md5 + ".jpg.tmp.AbC123")
            with open(junk, "wb") as f:
                f.write(b"\xff\xd8half")
            d.start()
            self.assertFalse(os.path.exists(junk), "partial file survived a restart")
            self.site.reset_stats()
            r = d.ctl("sync")
            self.assertEqual(r.returncode, 0, r)
            self.assertEqual(synccheck.images_served(self.site), 0)
            self.assertEqual(db_query("SELECT state FROM images WHERE md5 = ?", (md5,)), [("ok",)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
