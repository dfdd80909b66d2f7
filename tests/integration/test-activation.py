#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""D-Bus activation as a user gets it: `cmake --install` into a scratch
prefix, a private dbus-daemon whose only <servicedir> is the installed
share/dbus-1/services, and no fluffd running. `fluffctl status` (the
installed one) must start the installed fluffd through the activation file
and get its answer; the test then checks which binary owns the name and
stops it with SIGTERM (it must leave the bus and exit).
Bad input that must be survived: a second status while it runs starts no
second fluffd; the site points at a closed port, so nothing leaves the
machine."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ["FLUFF_BUILD_DIR"]
NAME = "io.github.fluffml.Fluff1"

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def wait_for(pred, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


class Activation(unittest.TestCase):
    def setUp(self):
        if not shutil.which("dbus-daemon"):
            self.skipTest("dbus-daemon missing (apt-get install dbus-daemon)")
        self.tmp = tempfile.mkdtemp(prefix="fluff-activation-")
        self.prefix = os.path.join(self.tmp, "prefix")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", self.prefix], check=True,
                       stdout=subprocess.DEVNULL)
        servicedir = os.path.join(self.prefix, "share", "dbus-1", "services")
        self.assertTrue(os.path.isfile(os.path.join(servicedir, NAME + ".service")))
        socket = os.path.join(self.tmp, "bus")
        conf = os.path.join(self.tmp, "session.conf")
        with open(conf, "w") as f:
            f.write(CONFIG.format(socket=socket, servicedir=servicedir))
        self.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=f"unix:path={socket}",
                        FLUFF_SITE="http://127.0.0.1:9")
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        # The daemon hands its environment to what it activates.
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env, text=True)
        self.assertTrue(self.bus.stdout.readline().startswith("unix:"))
        self.fluffd_pid = None

    def tearDown(self):
        if self.fluffd_pid:
            try:
                os.kill(self.fluffd_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.bus.terminate()
        self.bus.wait(10)
        self.bus.stdout.close()
        shutil.rmtree(self.tmp)

    def busctl(self, *args):
        return subprocess.run(["busctl", "--user", "--", *args], capture_output=True, text=True, timeout=30,
                              env=self.env)

    def owner_pid(self):
        r = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "GetConnectionUnixProcessID", "s", NAME)
        return int(r.stdout.split()[1]) if r.returncode == 0 else None

    def test_status_starts_fluffd(self):
        r = self.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "ListActivatableNames")
        self.assertIn(f'"{NAME}"', r.stdout)
        self.assertIsNone(self.owner_pid(), "fluffd runs before anyone asked for it")

        fluffctl = os.path.join(self.prefix, "bin", "fluffctl")
        r = subprocess.run([fluffctl, "status"], capture_output=True, text=True, timeout=60, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Logged in: no", r.stdout)
        # The activated fluffd got this session's environment.
        self.assertIn("Site: http://127.0.0.1:9", r.stdout)

        pid = self.owner_pid()
        self.assertIsNotNone(pid, "fluffctl status answered, but nobody owns the name")
        self.fluffd_pid = pid
        self.assertEqual(os.readlink(f"/proc/{pid}/exe"), os.path.join(self.prefix, "bin", "fluffd"))
        self.assertEqual(subprocess.run([fluffctl, "status"], capture_output=True, env=self.env,
                                        timeout=60).returncode, 0)
        self.assertEqual(self.owner_pid(), pid, "a second fluffd was started")

        os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_for(lambda: self.owner_pid() is None), "fluffd kept the name after SIGTERM")
        # dbus-daemon, its parent, reaps it: gone, not a zombie.
        self.assertTrue(wait_for(lambda: not os.path.exists(f"/proc/{pid}")), "fluffd did not exit")
        self.fluffd_pid = None


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
