#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`fluffd --self-test` runs a shader on the chosen Vulkan device (lavapipe in
CI) and checks its result; without any Vulkan driver it must fail cleanly with
a message naming the package to install, not crash."""
import os
import signal
import subprocess
import sys
import unittest

FLUFFD = os.path.join(os.environ["FLUFF_BUILD_DIR"], "daemon", "fluffd")


class SelfTest(unittest.TestCase):
    def test_runs_on_device(self):
        r = subprocess.run([FLUFFD, "--self-test"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("self-test passed", r.stdout + r.stderr)

    def test_no_vulkan_device(self):
        env = dict(os.environ, VK_ICD_FILENAMES="/nonexistent", VK_DRIVER_FILES="/nonexistent")
        r = subprocess.run([FLUFFD, "--self-test"], capture_output=True, text=True, timeout=120, env=env)
        self.assertGreater(r.returncode, 0, "must fail with an exit code, not a signal: " + r.stderr)
        self.assertNotIn(r.returncode, (128 + signal.SIGSEGV, 128 + signal.SIGABRT))
        self.assertIn("mesa-vulkan-drivers", r.stderr)


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
