#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fluffd against a hostile or broken site (issue 15), end to end over the bus:
a Latin-1 error page (a captive portal) makes login fail at once with the
page's words instead of a 120 s time-out, and a vote answered with one leaves
a last error that `status` can still show, also after a restart; terminal
escapes in a Content-Type or a tag never reach fluffctl's output; a post whose
image URL points at another listener on this computer is not fetched; fluffctl
cuts long arguments it quotes on a character boundary.
Bad input that must be survived: all of the above."""
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from synced import SyncedCase  # noqa: E402
from fluffd import FLUFFCTL, db_path, db_query  # noqa: E402

VOTES = r"^/posts/\d+/votes\.json"
# what a terminal acts on: ESC, BEL, CSI in C1 (raw or UTF-8), DEL
BAD = [b"\x1b", b"\x07", b"\x9b", b"\xc2\x9b", b"\x7f"]


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return None


class Listener:
    """A second HTTP listener on loopback that counts connections."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.connections += 1
            c.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


class Hostile(SyncedCase):
    SEED, SITE = 31, dict(liked=6, disliked=6, both=0, others=10, rate_limit=0)
    REMEMBER = True

    def setUp(self):
        self.site.clear_faults()
        if self.d.proc is None:
            self.d.start()

    def run_ctl(self, *args, timeout=60):
        """fluffctl's raw bytes: what a terminal would get."""
        return subprocess.run([FLUFFCTL, *args], env=self.d.env(), capture_output=True, timeout=timeout)

    def assert_clean(self, data):
        data.decode("utf-8")  # valid UTF-8, or this raises
        for b in BAD:
            self.assertNotIn(b, data)

    def test_no_core_dumps(self):
        # the key lives in fluffd's memory: no core file may carry it
        with open(f"/proc/{self.d.pid}/limits") as f:
            line = next(li for li in f if li.startswith("Max core file size"))
        self.assertEqual(line.split()[4:6], ["0", "0"], line)
        # not dumpable: /proc/PID belongs to root, not to the user (visible when not root)
        if os.getuid() != 0:
            self.assertEqual(os.stat(f"/proc/{self.d.pid}").st_uid, 0)

    def busctl(self, *args):
        return subprocess.run(["busctl", "--user", "--timeout=20", "call", "io.github.fluffml.Fluff1",
                               "/io/github/fluffml/Fluff1", "io.github.fluffml.Fluff1.Manager", *args],
                              env=self.d.env(), capture_output=True, timeout=60)

    def test_long_non_ascii_arguments_get_a_reply(self):
        # the error quotes a cut of the value: cut mid-character, the reply
        # could not be sent and the call timed out after 30 s
        for args in (("Login", "ssb", "é" * 100, "key", "false"),
                     ("Sync", "a{sv}", "1", "ö" * 70, "b", "true"),
                     ("Sync", "a{sv}", "1", "mode", "s", "x" + "ö" * 70),
                     ("Predict", "sua{sv}", "x", "5", "1", "ü" * 70, "b", "true")):
            t0 = time.monotonic()
            r = self.busctl(*args)
            self.assertNotEqual(r.returncode, 0, r)
            self.assertLess(time.monotonic() - t0, 15, r)
            self.assertTrue(b"valid" in r.stderr or b"nknown" in r.stderr or b"not known" in r.stderr, r)
            self.assert_clean(r.stderr)

    def test_long_non_ascii_cli_arguments(self):
        # fluffctl quotes at most 64 bytes of a bad argument: cut on a
        # character boundary, never half an "é" (an odd cut: "x" + é…)
        arg = "x" + "é" * 100
        for args in (("like", arg), ("watch", "remove", arg), ("watch", arg), (arg,), ("status", arg),
                     ("jobs", arg)):
            r = self.run_ctl(*args)
            self.assertEqual(r.returncode, 2, r)
            self.assert_clean(r.stderr)
            self.assertIn(("x" + "é" * 31).encode(), r.stderr, r)
            self.assertNotIn(("x" + "é" * 33).encode(), r.stderr, r)

    def test_latin1_login_fails_at_once(self):
        # a captive portal answers 200 with its own page
        self.site.fault("latin1_error", status=200, path=r"^/users/")
        t0 = time.monotonic()
        r = self.d.login(self.site.user, self.site.api_key)
        took = time.monotonic() - t0
        self.assertNotEqual(r.returncode, 0, r)
        self.assertLess(took, 30, f"login took {took:.1f} s")
        self.assertIn("Café", r.stderr)
        self.site.clear_faults()
        r = self.d.login(self.site.user, self.site.api_key, remember=True)
        self.assertEqual(r.returncode, 0, r)

    def test_latin1_vote_error_then_status(self):
        pid = db_query("SELECT post_id FROM labels LIMIT 1")[0][0]
        self.site.fault("latin1_error", status=422, path=VOTES, count=1)
        r = self.d.ctl("dislike", str(pid))
        self.assertEqual(r.returncode, 0, r)
        row = wait_for(lambda: db_query("SELECT last_error FROM vote_outbox WHERE post_id = ? AND "
                                        "state = 'failed'", (pid,)))
        self.assertTrue(row, self.d.log()[-2000:])
        self.assertIn("Café", row[0][0])
        for _ in range(2):
            r = self.run_ctl("status")
            self.assertEqual(r.returncode, 0, r)
            self.assert_clean(r.stdout + r.stderr)
            self.assertIn("Café".encode(), r.stdout)
            self.assertEqual(self.d.restart(), 0)
        # a raw Latin-1 error an older fluffd stored is repaired when read
        self.d.stop()
        import sqlite3
        con = sqlite3.connect(db_path(), timeout=10)
        with con:
            con.execute("UPDATE sync_state SET value = CAST(? AS TEXT) WHERE key = 'outbox.last_error'",
                        ("Anmeldung \xab Caf\xe9 \xbb \x1b[2J".encode("latin-1"),))
        con.close()
        self.d.start()
        r = self.run_ctl("status")
        if r.returncode != 0:
            for prop in ("OutboxLastError", "Username", "Site", "BackboneInfo", "ModelInfo"):
                q = subprocess.run(["busctl", "--user", "get-property", "io.github.fluffml.Fluff1",
                                    "/io/github/fluffml/Fluff1", "io.github.fluffml.Fluff1.Manager", prop],
                                   env=self.d.env(), capture_output=True)
                print(prop, q, file=sys.stderr)
        self.assertEqual(r.returncode, 0, r)
        self.assert_clean(r.stdout + r.stderr)
        self.assertIn("Café".encode(), r.stdout)

    def test_escapes_in_content_type(self):
        self.site.fault("hostile_content_type", path=r"^/posts\.json")
        r = self.run_ctl("sync", timeout=300)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn(b"instead of JSON", r.stderr)
        self.assert_clean(r.stdout + r.stderr)

    def test_escapes_in_tags(self):
        pid = self.site.add_posts(1)[0]
        self.site.user_favorite(pid, True)
        self.site.override_post(pid, tags={"general": ["evil\u009b31m", "esc\u001b[2J", "bell\u0007",
                                                       "caf\u00e9_(place)"]})
        r = self.run_ctl("sync", timeout=300)
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(db_query("SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id "
                                 "WHERE pt.post_id = ? AND t.name = ?", (pid, "café_(place)")),
                        "the clean tag beside the hostile ones is kept")
        self.assert_clean(r.stdout + r.stderr)
        names = [n for (n,) in db_query("SELECT name FROM tags")]
        for n in names:
            self.assertFalse(any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in n), repr(n))
        r = self.run_ctl("jobs")
        self.assert_clean(r.stdout + r.stderr)

    def test_image_url_to_another_listener(self):
        other = Listener()
        try:
            pid = self.site.add_posts(1)[0]
            self.site.user_favorite(pid, True)
            self.site.override_post(pid, url=f"http://127.0.0.1:{other.port}/data/sample/ab/cd/x.jpg")
            r = self.run_ctl("sync", timeout=300)
            self.assert_clean(r.stdout + r.stderr)
            self.assertIsNotNone(self.d.proc)
            self.assertEqual(self.d.proc.poll(), None, "fluffd died")
            time.sleep(1)
            self.assertEqual(other.connections, 0, "fluffd connected to the other listener")
            self.assertTrue(db_query("SELECT 1 FROM labels WHERE post_id = ?", (pid,)),
                            "the post itself is still synced")
        finally:
            other.close()


if __name__ == "__main__":
    unittest.main()
