#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Votes on predicted posts and the review list, through fluffctl on a private
bus against the fake site (tags only: no backbone). A like or dislike of a
predicted post moves its crop into the dataset (images/<md5>.jpg, recorded
ok, the run re-pointed at it) also across file systems (the cache on
/dev/shm); a dataset image already there is kept; a clear leaves the files
alone; a vanished crop is fine; a re-predict never deletes a moved file.
`review` lists the unvoted posts of the kept runs closest to the model's
threshold, ties by score. `train --towers` ablations are named in status.
Bad input that must be survived: Review counts out of range, unknown or
mistyped towers, --towers image without a backbone, a crop deleted behind
fluffd's back."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from synced import SyncedCase  # noqa: E402
from fluffd import data_dir, db_query  # noqa: E402

SEED = 23
IMAGE_SIZE = 64
QUERY = "-no_such_tag_anywhere"
BUS = ["busctl", "--user", "call", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
       "io.github.fluffml.Fluff1.Manager"]


def images_dir():
    return os.path.join(data_dir(), "images")


def md5_of(row):
    return os.path.basename(row["image"])[:32]


def image_record(md5):
    rows = db_query("SELECT state, post_id FROM images WHERE md5 = ?", (md5,))
    return rows[0] if rows else None


class Review(SyncedCase):
    SEED, SITE = SEED, dict(liked=40, disliked=40, both=0, others=90, rate_limit=0)
    CONFIG = {"rate_limit": 2, "image_size": IMAGE_SIZE}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.d.ctl("train", "--time", "5s")
        assert r.returncode == 0, f"{r!r}\n{cls.d.log()[-3000:]}"

    def predict(self, count):
        r = self.ctl("predict", "--count", str(count), "--json", "--", QUERY)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        return r.json()

    def vote(self, verb, pid):
        r = self.ctl(verb, str(pid))
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")

    def test_1_votes_move_crops(self):
        rows = self.predict(20)
        self.assertEqual(len(rows), 20)
        liked, kept, cleared, vanished = rows[0], rows[1], rows[2], rows[3]
        for x in rows:
            self.assertTrue(os.path.exists(x["image"]), x)
            self.assertFalse(os.path.exists(os.path.join(images_dir(), md5_of(x) + ".jpg")), x)

        # A like moves the crop: gone from the cache, in the dataset, recorded ok.
        with open(liked["image"], "rb") as f:
            crop = f.read()
        before = self.d.status()["counts"]["images"]
        self.vote("like", liked["id"])
        moved = os.path.join(images_dir(), md5_of(liked) + ".jpg")
        self.assertFalse(os.path.exists(liked["image"]))
        with open(moved, "rb") as f:
            self.assertEqual(f.read(), crop)
        self.assertEqual(image_record(md5_of(liked)), ("ok", liked["id"]))
        shown = {x["id"]: x for x in self.ctl("predictions", "--json", check=True).json()}
        self.assertEqual(shown[liked["id"]]["image"], moved)
        self.assertEqual(self.d.status()["counts"]["images"], before + 1)

        # A dataset image already there is kept; the prediction crop stays put.
        planted = os.path.join(images_dir(), md5_of(kept) + ".jpg")
        shutil.copyfile(rows[10]["image"], planted)
        with open(planted, "rb") as f:
            planted_bytes = f.read()
        self.vote("dislike", kept["id"])
        with open(planted, "rb") as f:
            self.assertEqual(f.read(), planted_bytes)
        self.assertTrue(os.path.exists(kept["image"]))
        self.assertEqual(image_record(md5_of(kept))[0], "ok")

        # A clear (vote 0) of a post never voted on is refused, and moves nothing.
        r = self.ctl("unvote", str(cleared["id"]))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no like or dislike of yours to clear", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(os.path.exists(cleared["image"]))
        self.assertFalse(os.path.exists(os.path.join(images_dir(), md5_of(cleared) + ".jpg")))
        self.assertIsNone(image_record(md5_of(cleared)))

        # A crop deleted behind fluffd's back: the vote still counts; the next sync fetches it.
        os.unlink(vanished["image"])
        self.vote("like", vanished["id"])
        self.assertFalse(os.path.exists(os.path.join(images_dir(), md5_of(vanished) + ".jpg")))
        self.assertIsNone(image_record(md5_of(vanished)))

        # A second vote on the moved post changes nothing on disk.
        self.vote("dislike", liked["id"])
        with open(moved, "rb") as f:
            self.assertEqual(f.read(), crop)

        # A re-predict deletes the previous run's crops, never the moved file.
        rows2 = self.predict(10)
        self.assertTrue(os.path.exists(moved))
        self.assertTrue(os.path.exists(planted))
        for x in rows[4:]:
            if x["image"] not in {y["image"] for y in rows2}:
                self.assertFalse(os.path.exists(x["image"]), x)
        # (the refused clear left "cleared" unvoted: it may be predicted again)
        voted = {liked["id"], kept["id"], vanished["id"]}
        self.assertFalse(voted & {x["id"] for x in rows2})
        # The sync after it adopts the moved crop instead of downloading it.
        self.site.reset_stats()
        r = self.ctl("sync")
        self.assertEqual(r.returncode, 0, r)
        served = self.site.stats()["images_served"]
        self.assertFalse([u for u in served if md5_of(liked) in u], served)
        self.assertTrue([u for u in served if md5_of(vanished) in u], served)
        self.assertEqual(image_record(md5_of(vanished))[0], "ok")

    def test_2_review(self):
        rows = self.predict(30)
        threshold = self.d.status()["model"]["threshold"]
        self.vote("like", rows[0]["id"])
        r = self.ctl("review", "--json", "--count", "320")
        self.assertEqual(r.returncode, 0, r)
        got = r.json()
        want = sorted(rows[1:], key=lambda x: (abs(x["score"] - threshold), -x["score"], x["id"]))
        self.assertEqual([x["id"] for x in got], [x["id"] for x in want])
        # the same post; "rank" is its place in the list printed (review's own order here)
        self.assertEqual({**got[0], "rank": None}, {**want[0], "rank": None})
        self.assertEqual([x["rank"] for x in got], list(range(1, len(got) + 1)))
        self.assertEqual(len(self.ctl("review", "--json", "--count", "3", check=True).json()), 3)
        default = self.ctl("review", "--json", check=True).json()
        self.assertEqual([x["id"] for x in default], [x["id"] for x in want[:10]])
        out = self.ctl("review", check=True).stdout
        self.assertIn(str(want[0]["id"]), out)
        self.assertIn("fluffctl like", out)
        self.assertIn("fluffctl dislike", out)

        # Bad input: counts out of range.
        self.assertEqual(self.ctl("review", "--count", "0").returncode, 2)
        r = subprocess.run(BUS + ["Review", "u", "5000"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("out of range", r.stderr)

    def test_3_cache_on_another_file_system(self):
        if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(data_dir()).st_dev:
            self.skipTest("no second file system for the cache")
        shm = tempfile.mkdtemp(prefix="fluff-cache-", dir="/dev/shm")
        try:
            self.d.stop()
            self.d.extra_env["XDG_CACHE_HOME"] = shm
            self.d.start()
            self.assertEqual(self.d.login(self.site.user, self.site.api_key).returncode, 0)
            rows = self.predict(5)
            self.assertTrue(rows[0]["image"].startswith(shm), rows[0])
            with open(rows[0]["image"], "rb") as f:
                crop = f.read()
            self.vote("like", rows[0]["id"])
            moved = os.path.join(images_dir(), md5_of(rows[0]) + ".jpg")
            with open(moved, "rb") as f:
                self.assertEqual(f.read(), crop)
            self.assertFalse(os.path.exists(rows[0]["image"]))
            self.assertFalse([n for n in os.listdir(images_dir()) if ".tmp." in n])
            self.assertEqual(image_record(md5_of(rows[0]))[0], "ok")
        finally:
            self.d.stop()
            del self.d.extra_env["XDG_CACHE_HOME"]
            shutil.rmtree(shm, ignore_errors=True)
            self.d.start()

    def test_4_towers(self):
        info = self.d.status()["model"]
        # No backbone: the image tower is the small CNN on the crops. Whether
        # the combination weighs it ("both") or keeps tags alone is the
        # cross-validation's honest choice on these 80 posts (issue 14: the
        # CNN is cross-fitted, so its logit no longer looks better than it is).
        self.assertEqual(info["image_tower"], "small CNN from scratch")
        self.assertIn(info["towers"], ("both", "tags"))
        installed = (info["created"], info["towers"])
        self.assertEqual(self.ctl("train", "--towers", "pixels").returncode, 2)
        for bad, why in ((["s", "pixels"], 'Towers "pixels" are not known'), (["u", "1"], "must be a string")):
            r = subprocess.run(BUS + ["Train", "a{sv}", "1", "towers"] + bad, capture_output=True, text=True,
                               timeout=30)
            self.assertNotEqual(r.returncode, 0, r)
            self.assertIn(why, r.stderr, r)
        # Without a backbone the image tower is the small CNN; with no crops
        # either there is nothing to train it on.
        os.rename(images_dir(), images_dir() + ".off")
        try:
            r = self.ctl("train", "--towers", "image", "--time", "5s")
        finally:
            os.rename(images_dir() + ".off", images_dir())
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("backbone", r.stderr)
        info = self.d.status()["model"]
        self.assertEqual((info["created"], info["towers"]), installed)  # the failed run replaced nothing
        # an ablation is kept aside: the installed model stays, unless --install
        r = self.ctl("train", "--towers", "image", "--time", "10s")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Kept aside", r.stdout + r.stderr)
        info = self.d.status()["model"]
        self.assertEqual((info["created"], info["towers"]), installed)
        r = self.ctl("train", "--towers", "tags", "--time", "5s", "--install")
        self.assertEqual(r.returncode, 0, r)
        info = self.d.status()["model"]
        self.assertEqual(info["towers"], "tags")
        self.assertEqual(info["image_tower"], "none")
        self.assertNotEqual(info["created"], installed[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
