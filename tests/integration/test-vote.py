#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Votes from fluffctl against the fake site, after a sync of a small world:
the label is recorded at once and survives restarts; the site receives each
vote (with no_unvote) and favourite exactly once; a dislike or a clear takes
a like's favourite back; like_favourites = false leaves favourites alone;
kill -9 while the vote is in flight, then a restart, sends nothing twice
(fluffd asks the site first); a 503 is retried with backoff; a 422 fails with the site's message in
status; the key appears in no log.
Any post can be voted on, by id or address, several at a time: one the sync
never saw is fetched from the site once, stored with its tags and labelled.
Bad input that must be survived: ids that are not numbers, 0, a score of 2
over the bus, a post the site does not have, an address on another site
(refused, exit 2), voting while logged out."""
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from synced import SyncedCase  # noqa: E402
from fluffd import db_query, files_containing, xdg  # noqa: E402

SEED = 21
VOTES = r"^/posts/\d+/votes\.json"


def wait_for(pred, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return None


class Vote(SyncedCase):
    SEED, SITE = SEED, dict(liked=16, disliked=12, both=0, others=10, rate_limit=0)
    CONFIG = {"rate_limit": 2, "image_size": 64}
    REMEMBER = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        state = cls.site.user_state()
        favs, up, down = set(state["favorites"]), set(state["upvotes"]), set(state["downvotes"])
        # Posts by what the site holds for them, handed out one per test.
        cls.pool = {
            "fav_only": sorted(favs - up - down),
            "up_only": sorted(up - favs),
            "down": sorted(down - favs),
        }

    def setUp(self):
        self.site.clear_faults()
        self.site.reset_stats()
        if self.d.proc is None:
            self.d.start()

    def take(self, kind):
        self.assertTrue(self.pool[kind], f"the world has no more {kind} posts")
        return self.pool[kind].pop(0)

    # ---- helpers ----
    def vote(self, verb, pid):
        r = self.d.ctl(verb, str(pid))
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        self.assertIn(f"post {pid}", r.stdout)
        self.assertEqual(len(r.stdout.strip().splitlines()), 1, r.stdout)
        return r

    def app_label(self, pid):
        rows = db_query("SELECT value FROM labels WHERE post_id = ? AND source = 'app'", (pid,))
        return rows[0][0] if rows else None

    def outbox(self, pid):
        return db_query("SELECT state, score, favourite, attempts, last_error FROM vote_outbox"
                        " WHERE post_id = ? ORDER BY id", (pid,))

    def wait_settled(self, pid, state="sent", timeout=60):
        ok = wait_for(lambda: (rows := self.outbox(pid)) and rows[-1][0] == state, timeout)
        self.assertTrue(ok, f"vote on {pid} never became {state}: {self.outbox(pid)}\n{self.d.log()[-3000:]}")
        return self.outbox(pid)[-1]

    def site_votes(self, pid):
        return [v for v in self.site.stats()["votes"] if v["post_id"] == pid]

    def site_favs(self, pid):
        return [f["action"] for f in self.site.stats()["favorites"] if f["post_id"] == pid]

    def post_score(self, pid):
        r = self.site.request("GET", f"/posts/{pid}.json")
        self.assertEqual(r.status, 200, r.body[:300])
        p = r.json()["post"]
        return p["score"]["up"], p["score"]["down"]

    # ---- tests ----
    def test_like(self):
        pid = self.take("down")
        # A slow site shows that the label does not wait for it.
        self.site.fault("slow", delay_ms=4000, path=VOTES, count=1)
        monitor = subprocess.Popen(["dbus-monitor", "--session",
                                    "type='signal',member='PropertiesChanged',path='/io/github/fluffml/Fluff1'"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.3)  # the monitor must be in place before the vote
        t = time.monotonic()
        self.vote("like", pid)
        self.assertLess(time.monotonic() - t, 3.5, "Vote waited for the site")
        self.assertEqual(self.app_label(pid), 1)
        self.assertEqual(self.d.status()["outbox"]["pending"], 1)
        self.wait_settled(pid)
        time.sleep(0.2)
        monitor.terminate()
        signals = monitor.communicate(timeout=10)[0]
        # Queued, then sent: status watchers hear of both.
        self.assertGreaterEqual(signals.count("OutboxPending"), 2, signals[-2000:])
        self.assertIn("OutboxLastError", signals)
        votes = self.site_votes(pid)
        self.assertEqual(votes, [{"post_id": pid, "score": 1, "no_unvote": True, "method": "POST"}])
        self.assertEqual(self.site_favs(pid), ["add"])
        state = self.site.user_state()
        self.assertIn(pid, state["upvotes"])
        self.assertIn(pid, state["favorites"])
        status = self.d.status()
        self.assertEqual(status["outbox"]["pending"], 0)
        self.assertGreaterEqual(status["outbox"]["sent"], 1)
        # A later sync hears the same from the site's lists: still liked.
        r = self.d.ctl("sync")
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(db_query("SELECT value FROM post_labels WHERE post_id = ?", (pid,)), [(1,)])

    def test_like_of_a_favourite(self):
        # "already favorited" is success, not a failure.
        pid = self.take("fav_only")
        self.vote("like", pid)
        row = self.wait_settled(pid)
        self.assertIsNone(row[4])
        self.assertEqual(len(self.site_votes(pid)), 1)
        self.assertIn(pid, self.site.user_state()["upvotes"])

    def test_dislike_takes_the_favourite_back(self):
        pid = self.take("fav_only")
        self.vote("dislike", pid)
        self.assertEqual(self.app_label(pid), -1)
        self.wait_settled(pid)
        self.assertEqual(self.site_votes(pid), [{"post_id": pid, "score": -1, "no_unvote": True,
                                                 "method": "POST"}])
        self.assertEqual(self.site_favs(pid), ["remove"])
        state = self.site.user_state()
        self.assertIn(pid, state["downvotes"])
        self.assertNotIn(pid, state["favorites"])

    def test_unvote(self):
        pid = self.take("up_only")
        self.vote("unvote", pid)
        self.assertEqual(self.app_label(pid), 0)
        self.wait_settled(pid)
        self.assertEqual(self.site_votes(pid), [{"post_id": pid, "score": 0, "no_unvote": False,
                                                 "method": "DELETE"}])
        self.assertEqual(self.site_favs(pid), ["remove"])
        self.assertNotIn(pid, self.site.user_state()["upvotes"])

    def test_like_favourites_off(self):
        pid = self.take("down")
        self.d.stop()
        self.d.config = {"rate_limit": 2, "image_size": 64, "like_favourites": False}
        try:
            self.d.start()
            self.vote("like", pid)
            self.wait_settled(pid)
            self.assertEqual(len(self.site_votes(pid)), 1)
            self.assertEqual(self.site_favs(pid), [])
            self.assertNotIn(pid, self.site.user_state()["favorites"])
        finally:
            self.d.stop()
            self.d.config = {"rate_limit": 2, "image_size": 64}
            self.d.start()

    def test_kill_while_in_flight(self):
        pid = self.take("fav_only")  # no vote on the site yet
        up0, down0 = self.post_score(pid)
        self.site.fault("slow", delay_ms=2500, path=VOTES, count=1)
        self.vote("like", pid)
        # The request reached the site and waits there: kill fluffd now.
        fired = wait_for(lambda: any(f["fired"] for f in self.site._control("GET", "/_test/faults")["faults"]), 20)
        self.assertTrue(fired, "the vote never reached the site")
        self.d.kill()
        # The site goes on and records the vote fluffd never heard about.
        self.assertTrue(wait_for(lambda: self.site_votes(pid), 20))
        self.assertEqual(self.outbox(pid)[-1][0], "pending")
        self.d.start()
        self.assertEqual(self.app_label(pid), 1)
        self.wait_settled(pid)
        # The restarted fluffd asked the site first and did not send it again;
        # the post was already a favourite, so no favourite request either.
        votes = self.site_votes(pid)
        self.assertEqual(votes, [{"post_id": pid, "score": 1, "no_unvote": True, "method": "POST"}])
        self.assertEqual(self.site_favs(pid), [])
        self.assertEqual(self.post_score(pid), (up0 + 1, down0))
        self.assertIn(pid, self.site.user_state()["upvotes"])

    def test_transient_503_is_retried(self):
        pid = self.take("down")
        # Two failures use up one send (a quick retry inside); the third
        # comes from the outbox's own backoff.
        self.site.fault("503", count=3, path=VOTES)
        self.vote("like", pid)
        err = wait_for(lambda: (e := self.d.status()["outbox"]["last_error"]) and "will retry" in e and e, 30)
        self.assertTrue(err, self.d.status())
        self.assertIn(str(pid), err)
        row = self.wait_settled(pid, timeout=60)
        self.assertGreaterEqual(row[3], 2)  # attempts
        self.assertEqual(len(self.site_votes(pid)), 1)
        self.assertEqual(self.site_favs(pid), ["add"])
        # Sent in the end: its transient error is gone.
        self.assertEqual(self.d.status()["outbox"]["last_error"], "")

    def test_change_of_mind_while_sending(self):
        # The like is in flight when the user clears it: the clear goes out
        # after it, and the site ends with no vote.
        pid = self.take("down")
        self.site.fault("slow", delay_ms=1500, path=VOTES, count=1)
        self.vote("like", pid)
        self.assertTrue(wait_for(lambda: any(f["fired"] for f in
                                             self.site._control("GET", "/_test/faults")["faults"]), 20))
        self.vote("unvote", pid)
        self.assertEqual(self.app_label(pid), 0)
        self.wait_settled(pid)
        ok = wait_for(lambda: [v["method"] for v in self.site_votes(pid)] == ["POST", "DELETE"], 20)
        self.assertTrue(ok, self.site_votes(pid))
        state = self.site.user_state()
        self.assertNotIn(pid, state["upvotes"] + state["downvotes"])
        self.assertNotIn(pid, state["favorites"])
        self.assertEqual([r[0] for r in self.outbox(pid)], ["sent"])

    def test_backoff_survives_a_restart(self):
        pid = self.take("down")
        self.site.fault("503", count=2, path=VOTES)
        self.vote("like", pid)
        ok = wait_for(lambda: (rows := self.outbox(pid)) and rows[-1][3] >= 1, 30)
        self.assertTrue(ok, self.outbox(pid))
        state, _, _, attempts, err = self.outbox(pid)[-1]
        self.assertEqual(state, "pending")
        self.assertIn("will retry", err)
        next_try = db_query("SELECT next_try FROM vote_outbox WHERE post_id = ?", (pid,))[0][0]
        self.assertGreater(next_try, time.time() * 1e6, "a transient failure must wait before the next try")
        self.d.kill()
        self.d.start()
        self.wait_settled(pid)
        self.assertEqual(len(self.site_votes(pid)), 1)
        self.assertIn(pid, self.site.user_state()["upvotes"])

    def test_pending_resumes_after_login(self):
        pid = self.take("down")
        self.site.fault("slow", delay_ms=3000, path=VOTES, count=1)
        self.vote("like", pid)
        self.assertTrue(wait_for(lambda: any(f["fired"] for f in
                                             self.site._control("GET", "/_test/faults")["faults"]), 20))
        # Logging out drops the request in flight; the vote stays queued.
        self.assertEqual(self.d.ctl("logout").returncode, 0)
        self.assertEqual(self.outbox(pid)[-1][0], "pending")
        time.sleep(3.5)
        self.assertEqual(self.d.status()["outbox"]["pending"], 1)
        self.assertEqual(self.d.login(self.site.user, self.site.api_key, remember=True).returncode, 0)
        self.wait_settled(pid)
        for v in self.site_votes(pid):
            self.assertEqual(v, {"post_id": pid, "score": 1, "no_unvote": True, "method": "POST"})
        self.assertIn(pid, self.site.user_state()["upvotes"])

    def test_permanent_422_fails_with_message(self):
        pid = self.take("down")
        msg = "Post is locked and cannot be voted on"
        self.site.fault("status", status=422, message=msg, path=VOTES, count=1)
        failed0 = self.d.status()["outbox"]["failed"]
        self.vote("like", pid)
        row = self.wait_settled(pid, state="failed")
        self.assertIn(msg, row[4])
        status = self.d.status()
        self.assertEqual(status["outbox"]["failed"], failed0 + 1)
        self.assertIn(msg, status["outbox"]["last_error"])
        text = self.d.ctl("status", check=True).stdout
        self.assertIn(msg, text)
        self.assertIn("failed", text)
        self.assertEqual(self.site_favs(pid), [])
        # Not retried, and still the user's label.
        time.sleep(3)
        self.assertEqual(len(self.outbox(pid)), 1)
        self.assertEqual(self.app_label(pid), 1)
        # Kept across a restart.
        self.d.stop()
        self.d.start()
        self.assertIn(msg, self.d.status()["outbox"]["last_error"])

    def test_hourly_limit_422_is_retried(self):
        # A throttled vote passes with time: it must not be dropped.
        pid = self.take("down")
        self.site.fault("status", status=422, message="You have reached the hourly limit for this action",
                        path=VOTES, count=1)
        self.vote("like", pid)
        row = self.wait_settled(pid)
        self.assertGreaterEqual(row[3], 2)
        self.assertEqual(len(self.site_votes(pid)), 1)
        self.assertIn(pid, self.site.user_state()["upvotes"])

    def test_labels_survive_restarts(self):
        pid = self.take("up_only")
        liked0 = self.d.status()["counts"]["disliked"]
        self.vote("dislike", pid)
        self.assertEqual(self.d.status()["counts"]["disliked"], liked0 + 1)
        self.d.kill()
        self.d.start()
        self.assertEqual(self.app_label(pid), -1)
        self.wait_settled(pid)
        self.d.stop()
        self.d.start()
        self.assertEqual(self.app_label(pid), -1)
        self.assertEqual(self.d.status()["counts"]["disliked"], liked0 + 1)
        self.assertEqual(len(self.site_votes(pid)), 1)

    def fetches(self):
        return self.site.stats()["requests"].get("GET /posts/<id>.json", 0)

    def test_vote_any_post(self):
        # Posts the sync never saw (not in the user's lists): by address and by id, in one call.
        known = {row[0] for row in db_query("SELECT id FROM posts")}
        others = sorted(int(p) for p in self.site.truth()["posts"] if int(p) not in known)
        self.assertGreaterEqual(len(others), 3, "the world has no posts outside the user's lists")
        a, b = others[:2]
        before = self.fetches()
        r = self.d.ctl("like", f"{self.site.url}/posts/{a}?q=wolf#top", str(b))
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-3000:]}")
        self.assertIn(f"post {a}", r.stdout)
        self.assertIn(f"post {b}", r.stdout)
        # each fetched once from the site and stored with its tags, then labelled
        self.assertEqual(self.fetches() - before, 2)
        for pid in (a, b):
            self.assertEqual(self.app_label(pid), 1)
            tags = db_query("SELECT COUNT(*) FROM post_tags WHERE post_id = ?", (pid,))[0][0]
            self.assertGreater(tags, 0, pid)
            self.wait_settled(pid)
            self.assertEqual(self.site_votes(pid), [{"post_id": pid, "score": 1, "no_unvote": True,
                                                     "method": "POST"}])
        # known now: a change of mind asks the site for nothing more
        before = self.fetches()
        self.vote("dislike", a)
        self.assertEqual(self.app_label(a), -1)
        self.assertEqual(self.fetches(), before)
        # a post the site does not have: one clear line naming it, nothing stored
        r = self.d.ctl("like", "987654321")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("Post 987654321 is not on", r.stderr)
        self.assertEqual(db_query("SELECT COUNT(*) FROM posts WHERE id = 987654321"), [(0,)])
        # an address on another site names the post of another site: refused before anything is sent
        c = others[2]
        before = self.fetches()
        r = self.d.ctl("like", str(c), f"https://elsewhere.example/posts/{c}")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("elsewhere.example", r.stderr)
        self.assertIn("not on", r.stderr)
        self.assertEqual(self.fetches(), before)
        self.assertIsNone(self.app_label(c))

    def test_bad_input(self):
        for bad in ("abc", "0", "-5", "12x", "+7", "0x10", "", "99999999999999999999999"):
            r = self.d.ctl("like", "--", bad)
            self.assertEqual(r.returncode, 2, (bad, r))
            self.assertIn("not a post id", r.stderr)
        self.assertEqual(self.d.ctl("like").returncode, 2)
        # several posts at once: each is tried, the command fails if one did
        r = self.d.ctl("like", "987654321", "987654322")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("987654322", r.stderr)
        # A post neither Fluff nor the site has.
        r = self.d.ctl("like", "987654321")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("987654321", r.stderr)
        self.assertIn("is not on", r.stderr)
        # A score the interface does not know, straight over the bus.
        pid = self.pool["up_only"][0]
        r = subprocess.run(["busctl", "--user", "call", "io.github.fluffml.Fluff1", "/io/github/fluffml/Fluff1",
                            "io.github.fluffml.Fluff1.Manager", "Vote", "ti", str(pid), "2"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not 2", r.stderr)
        self.assertEqual(self.outbox(pid), [])
        self.assertIsNone(self.app_label(pid))

    def test_logged_out(self):
        pid = self.pool["up_only"][0]
        self.assertEqual(self.d.ctl("logout").returncode, 0)
        try:
            r = self.d.ctl("like", str(pid))
            self.assertEqual(r.returncode, 75, r)  # EX_TEMPFAIL: log in first
            self.assertIn("Not logged in", r.stderr)
            self.assertIsNone(self.app_label(pid))
        finally:
            self.assertEqual(self.d.login(self.site.user, self.site.api_key, remember=True).returncode, 0)

    def test_zz_key_in_no_log(self):
        key = self.site.api_key
        self.assertNotIn(key, self.d.log())
        self.assertNotIn(key, self.site.stderr())
        hits = [p for p in files_containing(xdg("DATA"), key)]
        self.assertEqual(hits, [])
        self.assertNotIn(key, json.dumps(db_query("SELECT * FROM vote_outbox")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
