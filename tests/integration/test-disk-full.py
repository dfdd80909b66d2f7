#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A full disk: fluffd's data folder and its cache folder each on a small
tmpfs of their own, filled up (a filler file leaves a few KiB) during a
sync, during the save of a newly trained model, and during a prediction.

Each time: fluffctl fails with a clear error that names the folder that is
full; PRAGMA integrity_check is ok; no partial file is left; the model that
was there before still loads (a prediction works once the cache has room);
and once the filler is gone the same work completes.

Needs root (mount -t tmpfs); skipped (77) without."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, data_dir, db_integrity, db_query, site_cache_dir  # noqa: E402

SEED = 61
SIZE = "24m"


def mount_tmpfs(path, size):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


def fill(folder, leave=16 * 1024):
    """A filler file that leaves about `leave` bytes free on folder's file system."""
    path = os.path.join(folder, "filler")
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(path, "wb") as f:
        left = max(free - leave, 0)
        chunk = b"\0" * (1 << 20)
        while left > 0:
            n = min(left, len(chunk))
            try:
                f.write(chunk[:n])
                f.flush()
            except OSError:
                break
            left -= n
    return path


def partial_files(root):
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names if ".tmp." in n]


class DiskFull(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to mount a small tmpfs")
        cls.tmp = tempfile.mkdtemp(prefix="fluff-diskfull-")
        cls.mounts = []
        for kind in ("data", "cache"):
            path = os.path.join(cls.tmp, kind)
            os.mkdir(path)
            ok, err = mount_tmpfs(path, SIZE)
            if not ok:
                cls.tearDownClass()
                raise unittest.SkipTest(f"cannot mount a tmpfs: {err}")
            cls.mounts.append(path)
        # fluffd's folders live on them: $XDG_DATA_HOME/fluff, $XDG_CACHE_HOME/fluff
        os.environ["XDG_DATA_HOME"] = cls.mounts[0]
        os.environ["XDG_CACHE_HOME"] = cls.mounts[1]
        cls.site = FakeSite(seed=SEED, liked=40, disliked=30, both=0, others=80, rate_limit=0,
                            data_dir=site_cache_dir(SEED)).start()
        cls.d = Fluffd(site=cls.site.url, config={"rate_limit": 2, "image_size": 128})
        cls.d.start()
        r = cls.d.login(cls.site.user, cls.site.api_key, remember=True)
        assert r.returncode == 0, r

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "d", None):
                cls.d.__exit__(None, None, None)
            if getattr(cls, "site", None):
                cls.site.stop()
        finally:
            for m in cls.mounts:
                subprocess.run(["umount", m])
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def ctl(self, *args):
        return self.d.ctl(*args, timeout=300)

    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 0, f"fluffctl {' '.join(args)}: {r!r}\n{self.d.log()[-3000:]}")
        return r

    def fails_naming(self, folder, *args):
        r = self.ctl(*args)
        self.assertNotEqual(r.returncode, 0, f"fluffctl {' '.join(args)} succeeded on a full disk: {r!r}\n"
                            f"{self.d.log()[-3000:]}")
        msg = r.stderr
        self.assertRegex(msg, r"(?i)no space|disk is full|full", msg)
        self.assertIn(folder, msg, f"the error does not name {folder}: {msg!r}")
        print(f"fluffctl {' '.join(args)} on a full {folder}: {msg.strip()!r}", flush=True)
        return r

    def sound(self):
        self.assertEqual(db_integrity(), "ok")
        self.assertEqual(partial_files(self.mounts[0]) + partial_files(self.mounts[1]), [])

    def test_1_sync(self):
        data = data_dir()
        os.makedirs(data, exist_ok=True)
        # Room for the database and a few crops, not for all of them.
        filler = fill(self.mounts[0], leave=300 * 1024)
        r = self.ctl("sync")
        if r.returncode == 0:
            self.fail(f"the sync fitted in 300 KiB: make the world bigger\n{r!r}")
        self.assertRegex(r.stderr, r"(?i)no space|full", r)
        self.assertIn(data, r.stderr, f"the error does not name {data}: {r.stderr!r}")
        print(f"sync on a full data folder: {r.stderr.strip()!r}", flush=True)
        self.d.stop()  # a fresh start on the full disk must work too
        self.d.start()
        self.sound()
        os.unlink(filler)
        self.ok("sync")
        self.sound()
        st = self.d.status()
        self.assertEqual(st["counts"]["failed"], 0, st)
        self.assertEqual(st["counts"]["images"], st["counts"]["liked"] + st["counts"]["disliked"], st)

    def test_2_model_save(self):
        self.ok("train", "--time", "5s")
        models = os.path.join(data_dir(), "models")
        before = {n: os.path.getsize(os.path.join(models, n)) for n in os.listdir(models)}
        filler = fill(self.mounts[0], leave=4 * 1024)
        try:
            self.fails_naming(data_dir(), "train", "--time", "5s")
        finally:
            os.unlink(filler)
        self.sound()
        after = {n: os.path.getsize(os.path.join(models, n)) for n in os.listdir(models)}
        self.assertEqual(after, before, "the model files changed on a failed save")
        # The previous model still loads: a restarted fluffd predicts with it.
        self.d.stop()
        self.d.start()
        self.ok("predict", "--count", "5", "--", "-no_such_tag")
        self.ok("train", "--time", "5s")

    def test_3_prediction(self):
        cache = os.path.join(self.mounts[1], "fluff")
        os.makedirs(cache, exist_ok=True)
        self.site.add_posts(40)  # crops no earlier prediction has cached
        filler = fill(self.mounts[1], leave=4 * 1024)
        try:
            self.fails_naming(cache, "predict", "--count", "40", "--", "-no_such_tag")
            self.sound()
        finally:
            os.unlink(filler)
        self.ok("predict", "--count", "40", "--", "-no_such_tag")
        self.sound()
        self.assertGreater(db_query("SELECT COUNT(*) FROM labels")[0][0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
