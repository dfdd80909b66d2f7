#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Login and logout against the fake site: a wrong key is AuthFailed and
writes nothing; remember survives a restart in a 0600 file; without remember
the key dies with fluffd; an unreachable site is a Network error; the key is
never in a log line, a bus property or a file other than credentials.
Bad input that must be survived: wrong keys, empty input, a key with spaces,
a site that does not answer."""
import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fakesite import FakeSite  # noqa: E402
from fluffd import (Fluffd, bus_properties_dump, config_dir,  # noqa: E402
                    files_containing)

ROOT = os.environ.get("FLUFF_TEST_ROOT", "/nonexistent")


def creds_path():
    return os.path.join(config_dir(), "credentials")


class Login(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site = FakeSite(liked=5, disliked=5, both=1, others=10).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def setUp(self):
        if os.path.exists(creds_path()):
            os.unlink(creds_path())

    def test_wrong_key(self):
        with Fluffd(site=self.site.url) as d:
            wrong = "x" * len(self.site.api_key)
            r = d.login(self.site.user, wrong, remember=True)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("rejected", r.stderr)
            self.assertIn("key", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertNotIn(wrong, r.stderr)
            self.assertFalse(os.path.exists(creds_path()))
            self.assertFalse(d.status()["logged_in"])
            self.assertNotIn(wrong, d.log())
            # Bad keys never reach the site either.
            for bad in ("", "has space"):
                r = d.login(self.site.user, bad)
                self.assertEqual(r.returncode, 1, r)
                self.assertNotIn("has space", r.stderr)

    def test_saved_login_bound_to_its_site(self):
        # issue 15: a key saved for one site is never sent to another
        key = self.site.api_key
        other = FakeSite(liked=1, disliked=1, others=1, seed=5, api_key=key).start()
        try:
            with Fluffd(site=self.site.url) as d:
                r = d.login(self.site.user, key, remember=True)
                self.assertEqual(r.returncode, 0, r)
                with open(creds_path()) as f:
                    self.assertIn(f"site = {self.site.url}", f.read())
            other.reset_stats()
            with Fluffd(site=other.url) as d:
                self.assertFalse(d.status()["logged_in"], "the saved key was used for another site")
                self.assertIn("made for " + self.site.url, d.log())
                self.assertNotIn(key, d.log())
                d.ctl("sync")
            stats = other.stats()
            self.assertEqual(stats.get("key_in_url", []), [])
            self.assertTrue(os.path.exists(creds_path()), "the saved login was deleted")
            # its own site still gets it
            with Fluffd(site=self.site.url) as d:
                self.assertTrue(d.status()["logged_in"])
        finally:
            other.stop()

    def test_remember_and_restart(self):
        key = self.site.api_key
        with Fluffd(site=self.site.url) as d:
            r = d.login(self.site.user, key, remember=True)
            self.assertEqual(r.returncode, 0, r)
            st = d.status()
            self.assertTrue(st["logged_in"])
            self.assertEqual(st["username"], self.site.user)
            mode = stat.S_IMODE(os.stat(creds_path()).st_mode)
            self.assertEqual(mode, 0o600)
            self.assertNotIn(key, bus_properties_dump())

            self.assertEqual(d.restart(), 0)
            st = d.status()
            self.assertTrue(st["logged_in"], "remembered login lost over a restart")
            self.assertEqual(st["username"], self.site.user)

            # The key is in the credentials file and nowhere else.
            hits = files_containing(ROOT, key)
            hits = [h for h in hits if not h.startswith("/tmp/fluffd-")]
            self.assertEqual(hits, [creds_path()])
            self.assertNotIn(key, d.log())

            r = d.ctl("logout", "--forget")
            self.assertEqual(r.returncode, 0, r)
            self.assertFalse(d.status()["logged_in"])
            self.assertFalse(os.path.exists(creds_path()))

    def test_no_remember(self):
        with Fluffd(site=self.site.url) as d:
            r = d.login(self.site.user, self.site.api_key, remember=False)
            self.assertEqual(r.returncode, 0, r)
            self.assertTrue(d.status()["logged_in"])
            self.assertFalse(os.path.exists(creds_path()))
            self.assertEqual(d.restart(), 0)
            self.assertFalse(d.status()["logged_in"], "login without remember survived a restart")
            self.assertEqual(files_containing(ROOT, self.site.api_key), [])

    def test_logout_keeps_file_without_forget(self):
        with Fluffd(site=self.site.url) as d:
            self.assertEqual(d.login(self.site.user, self.site.api_key, remember=True).returncode, 0)
            self.assertEqual(d.ctl("logout").returncode, 0)
            self.assertFalse(d.status()["logged_in"])
            self.assertTrue(os.path.exists(creds_path()))
            self.assertEqual(d.restart(), 0)
            self.assertTrue(d.status()["logged_in"])

    def test_terminal_without_echo(self):
        import pty
        import select
        import time
        from fluffd import FLUFFCTL
        with Fluffd(site=self.site.url) as d:
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(FLUFFCTL, [FLUFFCTL, "login", self.site.user], d.env())
            out = b""

            def read(seconds):
                nonlocal out
                end = time.time() + seconds
                while time.time() < end:
                    ready, _, _ = select.select([fd], [], [], 0.1)
                    if ready:
                        try:
                            out += os.read(fd, 4096)
                        except OSError:
                            return
            read(1.0)
            self.assertIn(b"API key for", out)
            os.write(fd, self.site.api_key.encode() + b"\n")
            read(3.0)
            _, st = os.waitpid(pid, 0)
            os.close(fd)
            self.assertEqual(os.waitstatus_to_exitcode(st), 0, out)
            self.assertNotIn(self.site.api_key.encode(), out, "the key was echoed")
            self.assertTrue(d.status()["logged_in"])

    def test_network(self):
        # Port 9 (discard) on loopback: nothing listens, the connection is refused.
        with Fluffd(site="http://127.0.0.1:9") as d:
            r = d.login(self.site.user, self.site.api_key)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("Could not reach", r.stderr)
            self.assertFalse(d.status()["logged_in"])

    def test_sync_needs_login(self):
        with Fluffd(site=self.site.url) as d:
            r = d.ctl("sync")
            self.assertEqual(r.returncode, 75, r)  # EX_TEMPFAIL: nothing to do until you log in
            self.assertIn("Not logged in", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
