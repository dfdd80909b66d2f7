#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fluff-notify end to end on a private bus: fluffd (logged in, synced,
trained on the fake site) runs watches (`fluffctl watch add` + `watch run`); fluff-notify shows their hits through
the recording org.freedesktop.Notifications stand-in (tests/notify/), which
acts as the user.

- Two hits: one notification each, with the actions like/Like,
  dislike/Dislike and default, an image-path hint (a file:// URI of the
  watch's crop, which exists and is a JPEG), the post id and score in the
  summary and the watch's query, the score's parts ("image … + tags … +
  bias … = logit …", which add up) and top tags in the body (escaped, since
  the stand-in has body-markup); each post once, although fluffd sends both
  NewPredictions2 and NewPredictions. Like on one: the notification is replaced
  by a confirmation, and the fake site counts exactly one vote (+1) and one
  favourite for that post. Default on the other runs xdg-open (a recording
  script on PATH) with the post's page as its one argument.
- Six hits: one grouped notification; "expand" closes it and shows the six.
- The server restarts without actions or markup: fluff-notify re-reads the
  capabilities; the body then names "fluffctl like ID".
- fluffd restarts: the next watch's hits are still shown; running that watch
  again with nothing new on the site shows nothing.
- A vote that fails (logged out) replaces the notification with the reason.
- A dismissed notification is forgotten: a late ActionInvoked for it votes
  nothing.
- SIGTERM ends fluff-notify with status 0; its log holds one line per vote
  and per server change, and nothing else.
Bad input that must be survived: clicks on a notification already closed
(the stand-in refuses them) and NewPredictions sent by another client than
fluffd (ignored: nothing shown)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from fakesite import FakeSite  # noqa: E402
from fluffd import BUILD, Fluffd, fresh_state, jpeg_size, site_cache_dir, xdg  # noqa: E402

SEED = 33
STANDIN = os.path.join(BUILD, "tests", "notify-standin")
NOTIFY = os.path.join(BUILD, "client", "fluff-notify")
BUS = "io.github.fluffml.Fluff1"
PATH = "/io/github/fluffml/Fluff1"
MANAGER = BUS + ".Manager"


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


def busctl(*args, check=True):
    r = subprocess.run(["busctl", "--user", "--", *args], capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"busctl {' '.join(args)}: {r.stderr}")
    return r


class Standin:
    """The recording notification server."""

    def __init__(self, *flags):
        self.log = tempfile.NamedTemporaryFile(prefix="notify-standin-", suffix=".jsonl", delete=False).name
        self.proc = subprocess.Popen([STANDIN, "--log", self.log, *flags], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", f"stand-in did not start: {line!r}"

    def calls(self, call="Notify"):
        with open(self.log) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [r for r in rows if r["call"] == call]

    def wait_notify(self, count, timeout=60):
        ok = wait_for(lambda: len(self.calls()) >= count, timeout)
        assert ok, f"only {len(self.calls())} Notify calls, wanted {count}: {self.calls()}"
        return self.calls()

    def test_call(self, method, sig, *args, check=True):
        return busctl("call", "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                      "io.github.fluffml.Test.Notifications", method, sig, *map(str, args), check=check)

    def invoke(self, nid, key, check=True):
        return self.test_call("Invoke", "us", nid, key, check=check)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()
        os.unlink(self.log)


class Notify(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fresh_state()
        cls.site = FakeSite(seed=SEED, liked=40, disliked=40, both=0, others=80, rate_limit=0,
                            data_dir=site_cache_dir(SEED)).start()
        cls.d = Fluffd(site=cls.site.url, config={"rate_limit": 2, "image_size": 64})
        cls.d.start()
        r = cls.d.login(cls.site.user, cls.site.api_key, remember=True)
        assert r.returncode == 0, r
        for args in (["sync"], ["train", "--time", "10s"]):
            r = cls.d.ctl(*args)
            assert r.returncode == 0, f"{r!r}\n{cls.d.log()[-3000:]}"
        # A recording xdg-open: what the default action would open.
        cls.bindir = tempfile.mkdtemp(prefix="fluff-notify-bin-")
        cls.opened = os.path.join(cls.bindir, "opened")
        with open(os.path.join(cls.bindir, "xdg-open"), "w") as f:
            f.write(f'#!/bin/sh\n{{ for a in "$@"; do printf "%s\\n" "$a"; done; '
                    f'echo "token=$XDG_ACTIVATION_TOKEN startup=$DESKTOP_STARTUP_ID"; }} >> {cls.opened}\n')
        os.chmod(os.path.join(cls.bindir, "xdg-open"), 0o755)
        cls.server = Standin()
        cls.notify_log = tempfile.NamedTemporaryFile(prefix="fluff-notify-", suffix=".log", delete=False)
        env = dict(os.environ, PATH=cls.bindir + ":" + os.environ["PATH"])
        cls.notify = subprocess.Popen([NOTIFY], stdout=cls.notify_log, stderr=cls.notify_log, env=env)
        cls.queries = 0

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.notify.poll() is None:
                cls.notify.kill()
                cls.notify.wait()
            cls.server.stop()
            cls.notify_log.close()
            os.unlink(cls.notify_log.name)
            shutil.rmtree(cls.bindir)
            cls.d.__exit__(None, None, None)
        finally:
            cls.site.stop()

    # ---- helpers ----
    def watch(self, max_per_run):
        """A new watch on every post (each query its own, so each watch is new)
        with threshold 0, run now through fluffctl; returns its id and query."""
        type(self).queries += 1
        query = f"-no_such_tag_{self.queries} -<b>&"
        r = self.d.ctl("watch", "add", "--json", "--threshold", "0", "--max", str(max_per_run), "--",
                       *query.split())
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        wid = r.json()["id"]
        r = self.d.ctl("watch", "run", str(wid))
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        self.assertIn(f"{max_per_run} new post", r.stdout)
        return wid, query

    def notify_output(self):
        with open(self.notify_log.name, errors="replace") as f:
            return f.read()

    def check_single(self, n, query):
        self.assertEqual(n["app_name"], "Fluff")
        self.assertEqual(n["replaces_id"], 0)
        # the spec's hints: Fluff's .desktop file names it, a post is normal urgency, kept in history
        self.assertEqual(n["hints"]["desktop-entry"], "io.github.fluffml.Fluff", n)
        self.assertEqual(n["hints"]["category"], "x-fluff.post", n)
        self.assertEqual(n["hints"]["urgency"], 1, n)
        self.assertNotIn("transient", n["hints"], n)
        uri = n["hints"]["image-path"]
        self.assertTrue(uri.startswith("file:///"), n)
        path = urllib.parse.unquote(uri[len("file://"):])
        self.assertEqual(os.path.dirname(path), os.path.join(xdg("CACHE"), "fluff", "watches"), n)
        self.assertIsNotNone(jpeg_size(path), path)
        pid = int(n["summary"].split()[1].rstrip(":"))
        self.assertRegex(n["summary"], r"^Post \d+: \d{1,3}% like$")
        # body-markup: the query's markup characters arrive escaped
        self.assertIn("&lt;b&gt;&amp;", n["body"])
        self.assertNotIn("<b>", n["body"])
        # why (NewPredictions2): the logit's parts, which add up (each shown to 0.01)
        m = re.search(r"^image ([+-]\d+\.\d\d) \+ tags ([+-]\d+\.\d\d) \+ bias ([+-]\d+\.\d\d) "
                      r"= logit ([+-]\d+\.\d\d)$", n["body"], re.M)
        self.assertTrue(m, n["body"])
        image, tags, bias, logit = (float(x) for x in m.groups())
        self.assertLessEqual(abs(image + tags + bias - logit), 0.02, n["body"])
        return pid

    # ---- tests ----
    def test_1_singles_like_and_open(self):
        n0 = len(self.server.calls())
        wid, query = self.watch(2)
        shown = self.server.wait_notify(n0 + 2)[n0:]
        self.assertEqual(len(shown), 2, shown)
        for n in shown:
            self.assertEqual(n["actions"], ["default", "Open", "like", "Like", "dislike", "Dislike"])
        pids = [self.check_single(n, query) for n in shown]
        time.sleep(0.5)
        self.assertEqual(len(self.server.calls()), n0 + 2, "one notification per post, nothing more")

        # Like on the first: exactly one vote and one favourite on the site.
        self.site.reset_stats()
        nid, pid = shown[0]["id"], pids[0]
        self.server.invoke(nid, "like")
        conf = self.server.wait_notify(n0 + 3)[-1]
        self.assertEqual(conf["summary"], f"Liked post {pid}")
        self.assertEqual(conf["actions"], [])
        # a confirmation is low urgency and transient: not kept in the history
        self.assertEqual((conf["hints"]["transient"], conf["hints"]["urgency"], conf["hints"]["category"]),
                         (True, 0, "x-fluff.vote"), conf)
        self.assertEqual(conf["hints"]["desktop-entry"], "io.github.fluffml.Fluff", conf)
        # The stand-in closed the clicked one (as servers do), so this is a new one.
        self.assertEqual(conf["replaces_id"], nid)
        ok = wait_for(lambda: [v for v in self.site.stats()["votes"] if v["post_id"] == pid], 30)
        self.assertTrue(ok, f"no vote reached the site\n{self.d.log()[-3000:]}")
        time.sleep(1.5)
        votes = [v for v in self.site.stats()["votes"] if v["post_id"] == pid]
        self.assertEqual(votes, [{"post_id": pid, "score": 1, "no_unvote": True, "method": "POST"}])
        favs = [f["action"] for f in self.site.stats()["favorites"] if f["post_id"] == pid]
        self.assertEqual(favs, ["add"])
        self.assertIn(pid, self.site.user_state()["upvotes"])
        self.assertEqual(len(self.site.stats()["votes"]), 1, "a vote for another post")
        # A second click on the closed notification is refused by the server.
        self.assertNotEqual(self.server.invoke(nid, "like", check=False).returncode, 0)

        # Default on the second: xdg-open gets the post's page, as one argument.
        self.server.invoke(shown[1]["id"], "default")
        def opened():
            if not os.path.exists(self.opened):
                return None
            with open(self.opened) as f:
                text = f.read()
            return "token=" in text and text.splitlines()  # the script's last line is there
        lines = wait_for(opened, 20)
        self.assertTrue(lines, self.notify_output())
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith(self.site.url) and lines[0].endswith(f"/posts/{pids[1]}"), lines)
        # The server's activation token reaches the browser.
        tok = f"fluff-test-token-{shown[1]['id']}"
        self.assertEqual(lines[1], f"token={tok} startup={tok}")

    def test_2_group_expands(self):
        n0 = len(self.server.calls())
        self.watch(6)
        group = self.server.wait_notify(n0 + 1)[n0]
        time.sleep(0.5)
        self.assertEqual(len(self.server.calls()), n0 + 1, "a group is one notification")
        self.assertRegex(group["summary"], r"^6 new posts on ")
        self.assertEqual(group["actions"], ["default", "Show each", "expand", "Show each"])
        self.assertEqual(len(group["body"].splitlines()), 5 + 2, group["body"])  # 5 listed, "and 1 more", hint
        self.assertIn("and 1 more", group["body"])
        self.assertTrue(group["hints"]["image-path"].startswith("file:///"))
        self.assertEqual((group["hints"]["urgency"], group["hints"]["category"]), (0, "x-fluff.post"), group)
        self.server.invoke(group["id"], "expand")
        each = self.server.wait_notify(n0 + 7)[n0 + 1:]
        self.assertEqual(len(each), 6)
        listed = [int(line.split(":")[0]) for line in group["body"].splitlines()[:5]]
        self.assertEqual([self.check_single(n, None) for n in each][:5], listed)
        for n in each:
            self.assertIn("like", n["actions"])

    def test_3_server_restart_without_actions(self):
        type(self).server.stop()
        type(self).server = Standin("--no-actions", "--no-markup")
        wid, query = self.watch(1)
        n = self.server.wait_notify(1)[0]
        self.assertEqual(n["actions"], [])
        pid = int(n["summary"].split()[1].rstrip(":"))
        self.assertIn(f"fluffctl like {pid}", n["body"])
        self.assertIn(f"fluffctl dislike {pid}", n["body"])
        # no markup: the query as it is
        self.assertIn(query, n["body"])
        self.assertTrue(n["hints"]["image-path"].startswith("file:///"))

    def test_4_fluffd_restart_followed(self):
        self.d.stop()
        self.d.start()
        n0 = len(self.server.calls())
        wid, _ = self.watch(1)
        self.server.wait_notify(n0 + 1)
        # The same watch again, with no new posts on the site: nothing to show.
        r = self.d.ctl("watch", "run", str(wid))
        self.assertEqual(r.returncode, 0, r)
        time.sleep(1)
        self.assertEqual(len(self.server.calls()), n0 + 1)

    def test_5_foreign_signal_ignored(self):
        n0 = len(self.server.calls())
        r = busctl("emit", PATH, MANAGER, "NewPredictions", "tsa(tdssss)", "1", "q", "1",
                   "5", "0.9", "like", "t", "/etc/passwd", "file:///etc/passwd", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1)
        self.assertEqual(len(self.server.calls()), n0)

    def test_6_vote_failure_is_shown(self):
        type(self).server.stop()
        type(self).server = Standin()
        self.watch(1)
        n = self.server.wait_notify(1)[0]
        pid = int(n["summary"].split()[1].rstrip(":"))
        self.assertEqual(self.d.ctl("logout").returncode, 0)
        self.site.reset_stats()
        try:
            self.server.invoke(n["id"], "dislike")
            conf = self.server.wait_notify(2)[1]
        finally:
            self.assertEqual(self.d.login(self.site.user, self.site.api_key, remember=True).returncode, 0)
        self.assertEqual(conf["summary"], f"Could not dislike post {pid}")
        self.assertIn("Not logged in", conf["body"])
        self.assertEqual(conf["actions"], [])
        self.assertEqual(self.site.stats()["votes"], [])
        self.assertIn("Failed to dislike post", self.notify_output())

    def test_7_closed_notification_forgotten(self):
        n0 = len(self.server.calls())
        self.watch(1)
        n = self.server.wait_notify(n0 + 1)[n0]
        self.server.test_call("Dismiss", "u", n["id"])
        time.sleep(0.3)
        # A late click on the dismissed notification: no vote, nothing shown.
        self.site.reset_stats()
        self.server.test_call("Emit", "us", n["id"], "like")
        time.sleep(1.5)
        self.assertEqual(len(self.server.calls()), n0 + 1)
        self.assertEqual(self.site.stats()["votes"], [])
        # An id fluff-notify never showed, and an unknown action: ignored too.
        self.server.test_call("Emit", "us", 999999, "like")
        m = self.server.wait_notify(n0 + 1)[n0]
        self.assertEqual(m, n)

    def test_8_cli(self):
        r = subprocess.run([NOTIFY, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual((r.returncode, r.stdout.split()[0]), (0, "fluff-notify"), r)
        r = subprocess.run([NOTIFY, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("Show each", r.stdout)
        for bad in (["extra"], ["--bogus"]):
            r = subprocess.run([NOTIFY, *bad], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, (bad, r))

    def test_9_sigterm(self):
        self.notify.send_signal(signal.SIGTERM)
        self.assertEqual(self.notify.wait(10), 0)
        out = self.notify_output()
        self.assertNotIn(self.site.api_key, out)
        # Without noise: a line for each vote and server change, the one
        # failure test_6 caused, and nothing else (no sanitizer report either).
        expected = (r"Recorded a like of post \d+\.$", r"Failed to dislike post \d+: Not logged in",
                    r"The notification server (left|changed); forgetting \d+ notification\(s\)\.$")
        for line in out.splitlines():
            self.assertTrue(any(re.match(r"fluff-notify: " + e, line) for e in expected), out)
        self.assertEqual(len(re.findall("Recorded a like", out)), 1, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
