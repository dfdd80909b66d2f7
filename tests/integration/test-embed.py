#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The image backbone inside fluffd, end to end through fluffctl: import the
nsfwjs package (fetched once per build tree with tools/fetch-backbone.sh),
classify a real JPEG as the backbone's own C reference does, embed every
synced image once (a second run and a restart compute nothing), and keep the
weights across a restart.
Bad input that must be survived: classify/embed with no backbone (NoModel),
a relative path, a missing, truncated or altered package (a clear error and
the previous weights untouched), a file that is not an image."""
import hashlib
import os
import re
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "backbone"))
import bbtest  # noqa: E402
from fakesite import FakeSite  # noqa: E402
from fluffd import Fluffd, data_dir, db_path, fresh_state, site_cache_dir  # noqa: E402

SEED = 23
CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]
FEATURE_DIMS = {"b12_out": 192, "b13_expand": 1152, "b16_project": 640, "final": 2560}
EMBED_DIM = sum(FEATURE_DIMS.values())


def weights_path():
    return os.path.join(data_dir(), "models", "backbone.safetensors")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def bus_call(method, path):
    """A Manager method taking one path, called directly (dbus-send names the error)."""
    return subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=io.github.fluffml.Fluff1",
                           "/io/github/fluffml/Fluff1", f"io.github.fluffml.Fluff1.Manager.{method}",
                           f"string:{path}"], capture_output=True, text=True, timeout=60)


class Embed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tgz = bbtest.fetch_package()
        cls.tmp = tempfile.TemporaryDirectory(prefix="fluff-embed-")
        cls.site = FakeSite(seed=SEED, liked=30, disliked=24, both=1, others=6,
                            data_dir=site_cache_dir(SEED)).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()
        cls.tmp.cleanup()

    def setUp(self):
        fresh_state()
        self.d = Fluffd(site=self.site.url, config={"rate_limit": 2, "image_size": 224})
        self.d.start()

    def tearDown(self):
        self.d.__exit__(None, None, None)

    def ctl_ok(self, *args):
        r = self.d.ctl(*args)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        return r

    def ctl_fails(self, *args):
        r = self.d.ctl(*args)
        self.assertNotEqual(r.returncode, 0, r)
        return r

    def broken_copies(self):
        with open(self.tgz, "rb") as f:
            data = f.read()
        truncated = os.path.join(self.tmp.name, "truncated.tgz")
        with open(truncated, "wb") as f:
            f.write(data[: len(data) // 2])
        altered = os.path.join(self.tmp.name, "altered.tgz")
        with open(altered, "wb") as f:
            mid = len(data) * 3 // 4
            f.write(data[:mid] + bytes([data[mid] ^ 0x5A]) + data[mid + 1:])
        return truncated, altered

    def wait_jobs_idle(self, timeout=300):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            jobs = self.d.ctl("jobs", "--json").json()
            if all(j["state"] not in ("queued", "running") for j in jobs):
                return jobs
            time.sleep(0.5)
        self.fail(f"jobs still running after {timeout}s: {jobs}\n{self.d.log()[-3000:]}")

    def computed_per_run(self):
        return [int(n) for n in re.findall(r"Embedding computed (\d+) images", self.d.log())]

    def test_import_classify_embed(self):
        t0 = time.monotonic()
        # Nothing imported yet: a clear NoModel with advice.
        self.assertIsNone(self.d.status()["backbone"]["id"])
        self.assertFalse(os.path.exists(weights_path()))
        r = self.ctl_fails("embed")
        self.assertIn("fluffctl backbone import", r.stderr)
        r = bus_call("ClassifyImage", "/nonexistent.jpg")
        self.assertIn("NoModel", r.stderr + r.stdout, r)

        # Bad packages before any weights: an error, no weight file.
        truncated, altered = self.broken_copies()
        r = self.ctl_fails("backbone", "import", truncated)
        self.assertIn("Failed to import", r.stderr)
        self.assertFalse(os.path.exists(weights_path()))
        r = bus_call("ImportBackbone", "relative/nsfwjs.tgz")
        self.assertIn("InvalidArgument", r.stderr + r.stdout, r)
        r = bus_call("ImportBackbone", "/nonexistent/nsfwjs.tgz")
        self.assertEqual(r.returncode, 0, r)  # a job; it fails
        self.wait_jobs_idle()

        # The real package.
        r = self.ctl_ok("backbone", "import", self.tgz)
        self.assertIn("Imported backbone", r.stdout)
        bb = self.d.status()["backbone"]
        self.assertRegex(bb["id"], r"^[0-9a-f]{64}$")
        self.assertIn("4.4.0", bb["info"])
        # Probed once there is a backbone to run (lavapipe in CI).
        self.assertNotEqual(bb["vulkan_device"], "", "no Vulkan device found; install mesa-vulkan-drivers")
        self.assertTrue(os.path.exists(weights_path()))
        before = digest(weights_path())

        # Broken packages now leave the imported weights as they were.
        for bad in (truncated, altered, "/nonexistent/nsfwjs.tgz"):
            r = self.ctl_fails("backbone", "import", bad) if os.path.exists(bad) else None
            if r is not None:
                self.assertIn("Failed to import", r.stderr)
                self.assertLess(len(r.stderr.splitlines()), 4, r.stderr)
            self.assertEqual(digest(weights_path()), before)
            self.assertEqual(self.d.status()["backbone"]["id"], bb["id"])
        jobs = self.wait_jobs_idle()
        missing = [j for j in jobs if j["kind"] == "import" and "nonexistent" in j["error"]]
        self.assertEqual(len(missing), 1, jobs)
        self.assertEqual(missing[0]["error_name"], "io.github.fluffml.Fluff1.Error.InvalidArgument")

        # Sync: the embed job follows by itself.
        r = self.d.login(self.site.user, self.site.api_key)
        self.assertEqual(r.returncode, 0, r)
        self.ctl_ok("sync")
        jobs = self.wait_jobs_idle()
        embeds = [j for j in jobs if j["kind"] == "embed"]
        self.assertEqual(len(embeds), 1, jobs)
        self.assertEqual(embeds[0]["state"], "done", embeds)
        status = self.d.status()
        n_images = status["counts"]["images"]
        self.assertGreater(n_images, 20)
        self.assertEqual(status["backbone"]["embedded"], n_images)
        self.assertEqual(embeds[0]["total"], n_images)
        self.assertEqual(embeds[0]["done"], n_images)
        self.assertEqual(self.computed_per_run(), [n_images])
        self.check_rows(bb["id"], n_images)
        t_embed = time.monotonic()
        secs = (embeds[0]["finished_usec"] - embeds[0]["created_usec"]) / 1e6
        print(f"embed job: {n_images} images in {secs:.1f}s, {n_images / secs:.1f} images/s "
              f"on {status['backbone']['vulkan_device']}", file=sys.stderr)

        # Classify a real JPEG as the C reference does.
        images_dir = os.path.join(data_dir(), "images")
        jpegs = sorted(os.path.join(images_dir, f) for f in os.listdir(images_dir) if f.endswith(".jpg"))
        r = self.ctl_ok("backbone", "classify", "--json", jpegs[0])
        probs = r.json()
        self.assertEqual(sorted(probs), CLASSES)
        self.assertAlmostEqual(sum(probs.values()), 1.0, places=4)
        ref = bbtest.run(bbtest.BB_TOOL, "classify", weights_path(), jpegs[0])
        for c in CLASSES:
            want = float(re.search(rf"{c}=([0-9.]+)", ref).group(1))
            self.assertAlmostEqual(probs[c], want, delta=1e-3, msg=f"{c}: {probs} vs {ref}")
        r = self.ctl_ok("backbone", "classify", jpegs[0])
        self.assertEqual([line.split()[0] for line in r.stdout.splitlines()], CLASSES)
        # The stored embeddings are the reference pass's too.
        self.check_against_reference(bb["id"], jpegs[:2])
        # Not an image: an error naming the file and saying what is wrong in
        # a sentence (it was strerror's "Bad message"), fluffd goes on.
        r = self.ctl_fails("backbone", "classify", os.path.join(HERE, "test-embed.py"))
        self.assertIn("test-embed.py", r.stderr)
        self.assertIn("is not a JPEG, PNG, GIF or WebP image", r.stderr)
        self.assertNotIn("Bad message", r.stderr)
        self.assertNotIn("medium type", r.stderr)
        r = bus_call("ClassifyImage", os.path.join(HERE, "test-embed.py"))
        self.assertIn("test-embed.py\" is not a JPEG, PNG, GIF or WebP image", r.stderr + r.stdout, r)
        # A FIFO (issue 15): refused at once, not a worker blocked for ever; more
        # of them than there are workers, then a real image still classifies.
        fifo = os.path.join(self.tmp.name, "fifo.jpg")
        os.mkfifo(fifo)
        for _ in range(6):
            t0 = time.monotonic()
            r = bus_call("ClassifyImage", fifo)
            self.assertIn("InvalidArgument", r.stderr + r.stdout, r)
            self.assertLess(time.monotonic() - t0, 10, "ClassifyImage waited on a FIFO")
        self.ctl_ok("backbone", "classify", jpegs[0])

        # Again: nothing to compute.
        r = self.ctl_ok("embed")
        self.assertIn("Embedded 0 images", r.stdout)
        self.assertEqual(self.computed_per_run(), [n_images, 0])

        # Restart: the backbone and the embeddings are still there.
        self.assertEqual(self.d.restart(), 0)
        status = self.d.status()
        self.assertEqual(status["backbone"]["id"], bb["id"])
        self.assertEqual(status["backbone"]["embedded"], n_images)
        r = self.ctl_ok("embed")
        self.assertIn("Embedded 0 images", r.stdout)
        self.assertEqual(self.computed_per_run(), [n_images, 0, 0])
        print(f"{n_images} images embedded in {t_embed - t0:.1f}s (import, sync and embed); total "
              f"{time.monotonic() - t0:.1f}s", file=sys.stderr)

    def test_broken_file_and_no_vulkan(self):
        # A broken weight file: a warning, fluffd serves without a backbone.
        self.d.stop()
        os.makedirs(os.path.dirname(weights_path()), exist_ok=True)
        with open(weights_path(), "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"not\": \"weights\"}")
        # No device that matches: the C reference pass answers instead.
        self.d.extra_env["FLUFF_VK_DEVICE"] = "no-such-device"
        self.d.start()
        self.assertIn("Ignoring the backbone", self.d.log())
        status = self.d.status()
        self.assertIsNone(status["backbone"]["id"])
        self.assertIn("Vulkan: no device", self.ctl_ok("status").stdout)
        self.ctl_ok("backbone", "import", self.tgz)
        jpeg = bbtest.make_images(self.tmp.name)[0]
        probs = self.ctl_ok("backbone", "classify", "--json", jpeg).json()
        ref = bbtest.run(bbtest.BB_TOOL, "classify", weights_path(), jpeg)
        for c in CLASSES:
            want = float(re.search(rf"{c}=([0-9.]+)", ref).group(1))
            self.assertAlmostEqual(probs[c], want, delta=1e-3, msg=f"{c}: {probs} vs {ref}")
        self.assertIn("slow C reference pass", self.d.log())
        self.assertIn("no device", self.ctl_ok("status").stdout)

    def embedded(self):
        return self.d.status()["backbone"]["embedded"]

    def test_cancel_and_kill(self):
        # Images first, the backbone after: nothing embeds by itself.
        r = self.d.login(self.site.user, self.site.api_key, remember=True)
        self.assertEqual(r.returncode, 0, r)
        self.ctl_ok("sync")
        n_images = self.d.status()["counts"]["images"]
        # One crop gone from disk (forgotten, so a sync fetches it again), one
        # that is not a JPEG any more (marked failed, never tried again).
        images_dir = os.path.join(data_dir(), "images")
        jpegs = sorted(os.path.join(images_dir, f) for f in os.listdir(images_dir) if f.endswith(".jpg"))
        os.unlink(jpegs[-1])
        with open(jpegs[-2], "wb") as f:
            f.write(b"not a jpeg at all")
        n_images -= 2
        self.ctl_ok("backbone", "import", self.tgz)
        self.wait_jobs_idle()
        self.assertEqual(self.embedded(), 0)
        self.assertEqual(self.computed_per_run(), [])

        # Cancelled at once: the batch in flight is kept, the job says cancelled.
        job = self.ctl_ok("embed", "--no-wait", "--json").json()
        self.ctl_ok("cancel", str(job["id"]))
        jobs = self.wait_jobs_idle()
        self.assertEqual(jobs[0]["kind"], "embed")
        self.assertEqual(jobs[0]["state"], "cancelled", jobs[0])
        kept = self.embedded()
        self.assertGreater(kept, 0)
        self.assertLess(kept, n_images)
        self.assertEqual(jobs[0]["done"], kept)

        # Killed while a batch runs: the committed batches survive.
        self.ctl_ok("embed", "--no-wait")
        end = time.monotonic() + 120
        while self.embedded() == kept and time.monotonic() < end:
            time.sleep(0.05)
        self.d.kill()
        self.d.start()
        survived = self.embedded()
        self.assertGreater(survived, kept)
        r = self.ctl_ok("embed")
        self.assertEqual(self.embedded(), n_images)
        self.assertIn("1 failed, 1 gone from disk", self.d.log())
        self.assertEqual(self.d.status()["counts"]["images"], n_images + 1)
        # Every image computed once, whatever was lost in flight at the kill.
        self.check_rows(self.d.status()["backbone"]["id"], n_images, n_failed=1)
        last = self.computed_per_run()[-1]
        self.assertEqual(last, n_images - survived)
        print(f"cancel kept {kept}, kill -9 kept {survived}, the rerun computed {last} of {n_images}",
              file=sys.stderr)
        self.assertIn(f"Embedded {last} images", r.stdout)
        # The failed one is not tried again; the next sync brings the lost crop back.
        self.assertEqual(self.computed_per_run()[-1], last)
        self.assertIn("Embedded 0 images (0 failed, 0 gone", self.ctl_ok("embed").stdout)
        self.ctl_ok("sync")
        self.wait_jobs_idle()
        self.assertEqual(self.embedded(), n_images + 1)

    def check_rows(self, backbone, n_images, n_failed=0):
        db = sqlite3.connect(db_path())
        try:
            rows = db.execute("SELECT feature_set, dim, count(*) FROM embeddings WHERE backbone = ?"
                              " GROUP BY feature_set, dim", (backbone,)).fetchall()
        finally:
            db.close()
        want = {(f, d): n_images for f, d in FEATURE_DIMS.items()}
        if n_failed:
            want[("_failed", 1)] = n_failed
        self.assertEqual({(f, d): n for f, d, n in rows}, want)

    def check_against_reference(self, backbone, jpegs):
        out = os.path.join(self.tmp.name, "ref.f32")
        bbtest.run(bbtest.BB_TOOL, "embed", weights_path(), out, *jpegs)
        with open(out, "rb") as f:
            ref = f.read()
        db = sqlite3.connect(db_path())
        try:
            for i, path in enumerate(jpegs):
                md5 = os.path.basename(path)[:-4]
                want = struct.unpack(f"{EMBED_DIM + 5}f", ref[i * (EMBED_DIM + 5) * 4:(i + 1) * (EMBED_DIM + 5) * 4])
                offset = 0
                for name, dim in FEATURE_DIMS.items():
                    blob = db.execute("SELECT data FROM embeddings WHERE backbone = ? AND feature_set = ?"
                                      " AND md5 = ?", (backbone, name, md5)).fetchone()[0]
                    got = struct.unpack(f"{dim}f", blob)
                    w = want[offset:offset + dim]
                    offset += dim
                    err = sum((a - b) ** 2 for a, b in zip(got, w)) / max(sum(b * b for b in w), 1e-12)
                    self.assertLess(err, 1e-6, f"{name} of {md5}: normalised squared error {err}")
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
