#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fluffd on a private session bus: it serves the manager, refuses to run
twice, answers fluffctl status in text and JSON, stops cleanly on SIGTERM,
and fluffctl reports usage errors and a missing daemon clearly.
Bad input that must be survived: unknown verbs and options, extra arguments,
a job that does not exist, a second daemon on the same bus."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fluffd import FLUFFD, Fluffd, config_dir, ctl, write_config  # noqa: E402


class DaemonBasics(unittest.TestCase):
    def test_status_and_clean_stop(self):
        with Fluffd(site="http://127.0.0.1:9") as d:
            st = d.status()
            self.assertFalse(st["logged_in"])
            self.assertIsNone(st["username"])
            self.assertEqual(st["site"], "http://127.0.0.1:9")
            self.assertRegex(st["version"], r"^\d+\.\d+")
            self.assertEqual(st["jobs"], [])
            for k in ("liked", "disliked", "images", "skipped", "failed"):
                self.assertIn(k, st["counts"])

            text = d.ctl("status")
            self.assertEqual(text.returncode, 0, text)
            self.assertIn("Logged in: no", text.stdout)
            self.assertIn("http://127.0.0.1:9", text.stdout)
            # The Vulkan device is named even before any backbone or model
            # exists (lavapipe here: "llvmpipe ... (CPU)").
            self.assertNotEqual(st["backbone"]["vulkan_device"], "", "install mesa-vulkan-drivers")
            self.assertIn(st["backbone"]["vulkan_device_type"], ("discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other"))
            self.assertRegex(text.stdout, r"Vulkan: \S.* \(")

            jobs = d.ctl("jobs", "--json")
            self.assertEqual(jobs.returncode, 0, jobs)
            self.assertEqual(jobs.json(), [])

            # A second daemon must not steal or share the name.
            second = subprocess.run([FLUFFD], capture_output=True, text=True, timeout=20, env=d.env())
            self.assertEqual(second.returncode, 1)
            self.assertIn("Another fluffd already owns", second.stderr)
            self.assertEqual(d.status()["site"], "http://127.0.0.1:9")

            self.assertEqual(d.stop(), 0)
            self.assertIn("Stopping", d.log())

    def test_manager_interface(self):
        """The API clients rely on: names, signatures and change flags."""
        with Fluffd(site="http://127.0.0.1:9") as d:
            r = subprocess.run(["busctl", "--user", "introspect", "io.github.fluffml.Fluff1",
                                "/io/github/fluffml/Fluff1", "io.github.fluffml.Fluff1.Manager"],
                               capture_output=True, text=True, timeout=30, env=d.env())
            self.assertEqual(r.returncode, 0, r.stderr)
            members = {}
            for line in r.stdout.splitlines()[1:]:
                f = line.split()
                if len(f) >= 4:
                    members[f[0]] = (f[1], f[2], f[-1])
            want = {
                ".Login": ("method", "ssb"), ".Logout": ("method", "b"), ".Sync": ("method", "a{sv}"),
                ".LoggedIn": ("property", "b"), ".Username": ("property", "s"), ".Site": ("property", "s"),
                ".Version": ("property", "s"), ".Jobs": ("property", "ao"), ".Busy": ("property", "b"),
                ".LikedCount": ("property", "t"), ".DislikedCount": ("property", "t"),
                ".ImageCount": ("property", "t"), ".SkippedCount": ("property", "t"),
                ".FailedCount": ("property", "t"), ".ConflictCount": ("property", "t"),
                # contract 7: watches, and the signal fluff-notify hears
                ".AddWatch": ("method", "sa{sv}"), ".RemoveWatch": ("method", "t"),
                ".ListWatches": ("method", "-"), ".RunWatches": ("method", "a{sv}"),
                ".NewPredictions": ("signal", "tsa(tdssss)"),
                # issue 15: a file the caller opened, beside the older path methods
                ".ImportBackbone": ("method", "s"), ".ImportBackboneFd": ("method", "h"),
                ".ClassifyImage": ("method", "s"), ".ClassifyImageFd": ("method", "h"),
                # version 2 beside version 1: the rows with their explanations
                ".GetPredictions": ("method", "u"), ".GetPredictions2": ("method", "u"),
                ".NewPredictions2": ("signal", "tsa(tdssssa{sv})"),
            }
            for name, (kind, sig) in want.items():
                self.assertIn(name, members)
                self.assertEqual(members[name][:2], (kind, sig), name)
            self.assertIn("o", r.stdout.split(".Sync")[1].splitlines()[0])
            for prop in (".LoggedIn", ".Username", ".Jobs", ".LikedCount"):
                self.assertEqual(members[prop][2], "emits-change", prop)

    def test_usage_errors(self):
        for args in (["frobnicate"], ["status", "extra"], ["--no-such-option", "status"], ["login"], []):
            r = ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r))
            self.assertTrue(r.stderr.strip(), args)
        r = ctl("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Ctrl-C", r.stdout)
        r = ctl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn("fluffctl", r.stdout)

    def test_bad_config(self):
        """A bad value stops fluffd with one line naming the file, line and key."""
        write_config({"rate_limit": 5})
        try:
            r = subprocess.run([FLUFFD], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("config:2", r.stderr)
            self.assertIn("rate_limit", r.stderr)
            write_config({"site": "http://example.com"})
            r = subprocess.run([FLUFFD], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("site", r.stderr)
            write_config({"no_such_key": 1})
            with Fluffd(site="http://127.0.0.1:9") as d:
                self.assertFalse(d.status()["logged_in"])
                self.assertIn("no_such_key", d.log())
        finally:
            os.unlink(os.path.join(config_dir(), "config"))

    def test_no_daemon(self):
        r = ctl("status")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("fluffd is not running", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_cancel_unknown_job(self):
        with Fluffd(site="http://127.0.0.1:9") as d:
            r = d.ctl("cancel", "42")
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("No such job", r.stderr)
            r = d.ctl("cancel", "not-a-job")
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("Not a job", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
