#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Installs into a temporary DESTDIR and checks the layout a user relies on:
binaries in bin/, user units in share/systemd/user/ (which systemd --user reads for
~/.local and /usr/local), the D-Bus activation file in
share/dbus-1/services/, and that every unit passes `systemd-analyze verify`."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ["FLUFF_BUILD_DIR"]


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fluff-install-")
        cls.prefix = "/opt/fluff-test"
        env = dict(os.environ, DESTDIR=cls.tmp)
        subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        cls.root = cls.tmp + cls.prefix

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_layout(self):
        for exe in ("fluffd", "fluffctl", "fluff-notify"):
            path = os.path.join(self.root, "bin", exe)
            self.assertTrue(os.access(path, os.X_OK), path)
        for unit in ("fluffd.service", "fluff-notify.service", "fluff-watch.service", "fluff-watch.timer"):
            self.assertTrue(os.path.isfile(os.path.join(self.root, "share/systemd/user", unit)), unit)
        act = os.path.join(self.root, "share/dbus-1/services/io.github.fluffml.Fluff1.service")
        with open(act) as f:
            text = f.read()
        self.assertIn("Name=io.github.fluffml.Fluff1", text)
        self.assertIn("SystemdService=fluffd.service", text)
        # Exec= names the installed path, not the DESTDIR staging path.
        self.assertIn(f"Exec={self.prefix}/bin/fluffd", text)
        self.assertNotIn(self.tmp, text)

    def test_systemd_analyze_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze missing (apt-get install systemd)")
        # Units name the installed binaries, so verify a real install (no
        # DESTDIR) into a scratch prefix where ExecStart= paths exist.
        prefix = os.path.join(self.tmp, "real")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                       check=True, stdout=subprocess.DEVNULL)
        unitdir = os.path.join(prefix, "share/systemd/user")
        units = sorted(os.path.join(unitdir, u) for u in os.listdir(unitdir))
        self.assertEqual(len(units), 4)
        r = subprocess.run(["systemd-analyze", "--user", "verify", *units],
                           capture_output=True, text=True)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        # verify prints problems but often still exits 0: any line about our units fails
        ours = [line for line in out.splitlines() if "fluff" in line]
        self.assertEqual(ours, [], out)

if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
