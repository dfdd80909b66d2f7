#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fake e621 site behaves as e621-api.md says, so that later tests which
pass against it mean something: auth, paging, metatags, votes, favourites,
rate limits, every fault mode, stats, the world and its images.
Bad input it must survive: wrong keys, malformed auth headers, library
User-Agents, paging out of range, too many terms, invalid votes."""
import base64
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from fakesite import FakeSite

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-e621"))
import encode  # noqa: E402
import render  # noqa: E402
import world as world_mod  # noqa: E402

AUTH_FAILURE = {"success": False, "message": "SessionLoader::AuthenticationFailure", "code": None}
ACCESS_DENIED = {"success": False, "reason": "Access Denied"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def image_size(data):
    """(width, height) from a JPEG SOF, PNG IHDR or GIF header."""
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            assert data[i] == 0xFF, "broken JPEG marker chain"
            marker = data[i + 1]
            seglen = struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5:i + 9])
                return w, h
            i += 2 + seglen
        raise AssertionError("no SOF marker")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    raise AssertionError(f"not an image: {data[:8]!r}")


def auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = 0.0
    for p in pos:
        for n in neg:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(pos) * len(neg))


class SiteTest(unittest.TestCase):
    """One small world shared by the tests of a class; the API rate limit is
    off unless a test switches it on."""
    site_opts = {}

    @classmethod
    def setUpClass(cls):
        opts = dict(liked=24, disliked=20, both=3, others=40, rate_limit=0, seed=5)
        opts.update(cls.site_opts)
        cls.site = FakeSite(**opts).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def setUp(self):
        self.site.clear_faults()
        self.site.config(rate_limit=0, write_budget=60, vote_cap=3000, latency_ms=0)

    def get(self, path, **kw):
        return self.site.request("GET", path, **kw)

    def posts(self, query="", **kw):
        r = self.get("/posts.json?" + query, **kw)
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.content_type, "application/json")
        return r.json()["posts"]

    def ids(self, query="", **kw):
        return [p["id"] for p in self.posts(query, **kw)]

    def all_ids(self, tags, **kw):
        out = []
        page = ""
        while True:
            batch = self.ids(f"tags={tags}&limit=320{page}", **kw)
            out += batch
            if len(batch) < 320:
                return out
            page = f"&page=b{min(batch)}"

    def any_post(self, pred):
        truth = self.site.truth()["posts"]
        state = self.site.user_state()
        touched = set(state["favorites"]) | set(state["upvotes"]) | set(state["downvotes"])
        for pid in sorted(truth, key=int):
            p = self.get(f"/posts/{pid}.json").json()["post"]
            if int(pid) not in touched and pred(p):
                return p
        self.fail("no such post")


class Auth(SiteTest):
    ENDPOINTS = [("GET", "/posts.json"), ("GET", "/posts/{id}.json"),
                 ("GET", "/users/{user}.json"), ("PUT", "/users/{user}.json"),
                 ("POST", "/posts/{id}/votes.json"), ("DELETE", "/posts/{id}/votes.json"),
                 ("POST", "/favorites.json"), ("DELETE", "/favorites/{id}.json")]

    def endpoints(self):
        pid = self.ids("limit=1")[0]
        for m, p in self.ENDPOINTS:
            yield m, p.format(id=pid, user=self.site.user), pid

    def test_wrong_key_is_401_everywhere(self):
        for m, path, pid in self.endpoints():
            for kw in ({"api_key": "wrong"}, {"user": "nobody_here"}):
                r = self.site.request(m, path, data={"score": 1, "post_id": pid}, **kw)
                self.assertEqual(r.status, 401, (m, path, kw))
                self.assertEqual(r.content_type, "application/json")
                self.assertEqual(r.json(), AUTH_FAILURE)

    def test_malformed_header_is_401(self):
        bad = ["Bearer abc", "Basic", "Basic !!!notbase64",
               "Basic " + base64.b64encode(b"no-colon-here").decode(),
               "Basic " + base64.b64encode(b"\xff\xfe:x").decode()]
        for h in bad:
            r = self.get("/posts.json", auth=False, headers={"Authorization": h})
            self.assertEqual(r.status, 401, h)
            self.assertEqual(r.json(), AUTH_FAILURE)

    def test_anonymous_writes_are_403(self):
        for m, path, pid in self.endpoints():
            if m == "GET":
                r = self.site.request(m, path, auth=False)
                self.assertEqual(r.status, 200, path)
                continue
            r = self.site.request(m, path, data={"score": 1, "post_id": pid}, auth=False)
            self.assertEqual(r.status, 403, (m, path))
            self.assertEqual(r.json(), ACCESS_DENIED)

    def test_user_agent_rule(self):
        for ua in ("", "curl/7.88.1", "python-requests/2.31.0", "Python-urllib/3.11",
                   "libcurl-agent/1.0", "Wget/1.21"):
            r = self.get("/posts.json?limit=1", user_agent=ua)
            self.assertEqual(r.status, 403, ua)
        r = self.get("/posts.json?limit=1", user_agent=None)
        self.assertEqual(r.status, 403, "missing User-Agent")
        r = self.get("/posts.json?limit=1", user_agent="fluff/0.1 (by fluffy_tester on e621)")
        self.assertEqual(r.status, 200)

    def test_users_endpoint_blacklist_only_for_self(self):
        me = self.get(f"/users/{self.site.user}.json").json()
        bl = me["blacklisted_tags"]
        lines = bl.splitlines()
        self.assertTrue(any(s.startswith("#") for s in lines))
        self.assertTrue(any(" -" in s for s in lines))
        self.assertTrue(any(s.startswith("~") for s in lines))
        self.assertIn("rating:", bl)
        self.assertIn("score:", bl)
        self.assertIn("", [s.strip() for s in lines])
        anon = self.get(f"/users/{self.site.user}.json", auth=False).json()
        self.assertNotIn("blacklisted_tags", anon)
        other = self.get("/users/other_watcher.json").json()
        self.assertNotIn("blacklisted_tags", other)
        self.assertEqual(self.get("/users/no_such_user_x.json").status, 404)

    def test_banned_account_is_401_with_reason(self):
        self.site.config(banned=True)
        try:
            r = self.get("/posts.json?limit=1")
            self.assertEqual(r.status, 401)
            self.assertIn("banned", r.json()["message"])
            self.assertEqual(self.get("/posts.json?limit=1", auth=False).status, 200)
        finally:
            self.site.config(banned=False)

    def test_bad_bodies(self):
        for length, status in ((str(2 << 20), 413), ("banana", 400), ("-5", 400)):
            conn = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=5)
            conn.putrequest("POST", "/favorites.json")
            conn.putheader("Content-Length", length)
            conn.putheader("User-Agent", "fluff-tests/0.1")
            conn.endheaders()
            self.assertEqual(conn.getresponse().status, status, length)
            conn.close()
        r = self.site.request("POST", "/favorites.json", data=b"{not json",
                              headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 404, "no post_id in a broken body")
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)

    def test_unknown_route_is_html_404(self):
        r = self.get("/nothing/here.json")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.content_type, "text/html")


class Paging(SiteTest):
    def visible_count(self):
        truth = self.site.truth()["posts"]
        return len(truth) - len(self.ids("tags=status:deleted&limit=320"))

    def test_cursor_walk_returns_each_post_once(self):
        seen = []
        page = ""
        while True:
            batch = self.ids(f"limit=7{page}")
            self.assertEqual(batch, sorted(batch, reverse=True))
            seen += batch
            if len(batch) < 7:
                break
            page = f"&page=b{min(batch)}"
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), self.visible_count())

    def test_numbered_pages_return_each_post_once(self):
        seen = []
        for n in range(1, 100):
            batch = self.ids(f"limit=9&page={n}")
            seen += batch
            if len(batch) < 9:
                break
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), self.visible_count())
        self.assertEqual(seen, sorted(seen, reverse=True))

    def test_after_cursor_is_newest_first_just_above(self):
        asc = sorted(self.all_ids(""))
        pivot = asc[10]
        batch = self.ids(f"limit=5&page=a{pivot}")
        self.assertEqual(batch, list(reversed(asc[11:16])))

    def test_order_id_ascends(self):
        batch = self.ids("tags=order:id&limit=30")
        self.assertEqual(batch, sorted(batch))
        self.assertEqual(batch[0], min(self.all_ids("")))
        self.assertEqual(len(self.ids("")), 75)

    def test_out_of_range_is_410(self):
        r = self.get("/posts.json?limit=321")
        self.assertEqual(r.status, 410)
        self.assertFalse(r.json()["success"])
        r = self.get("/posts.json?page=751")
        self.assertEqual(r.status, 410)
        self.assertEqual(self.ids("page=750"), [])
        self.assertEqual(len(self.ids("limit=320")), min(320, self.visible_count()))

    def test_too_many_terms_is_422(self):
        tags = "+".join(f"tag_{i}" for i in range(41))
        r = self.get(f"/posts.json?tags={tags}")
        self.assertEqual(r.status, 422)
        self.assertIn("40", r.json()["message"])
        self.assertEqual(self.ids("tags=" + "+".join(f"-tag_{i}" for i in range(40)) + "&limit=3").__len__(), 3)


class Search(SiteTest):
    def test_vote_metatags_are_the_viewers_own(self):
        st = self.site.user_state()
        self.assertTrue(st["favorites"] and st["upvotes"] and st["downvotes"])
        deleted = set(self.all_ids("status:deleted"))
        self.assertEqual(sorted(self.all_ids(f"fav:{self.site.user}+status:any")), st["favorites"])
        self.assertEqual(sorted(self.all_ids(f"fav:{self.site.user}")),
                         sorted(set(st["favorites"]) - deleted))
        for tag in ("votedup", "upvote"):
            self.assertEqual(sorted(self.all_ids(f"{tag}:anyone_at_all+status:any")), st["upvotes"])
        for tag in ("voteddown", "downvote"):
            self.assertEqual(sorted(self.all_ids(f"{tag}:{self.site.user}+status:any")), st["downvotes"])
            self.assertEqual(sorted(self.all_ids(f"{tag}:{self.site.user}")),
                             sorted(set(st["downvotes"]) - deleted))
        both = set(st["favorites"]) & set(st["downvotes"])
        self.assertTrue(both, "some posts are favourited and downvoted")

    def test_vote_metatags_match_nothing_anonymously(self):
        for tag in ("votedup", "voteddown", "upvote", "downvote"):
            self.assertEqual(self.ids(f"tags={tag}:{self.site.user}", auth=False), [])
        favs = self.site.user_state()["favorites"]
        self.assertEqual(sorted(self.all_ids(f"fav:{self.site.user}+status:any", auth=False)), favs)
        self.assertEqual(self.ids("tags=fav:no_such_user_x"), [])
        r = self.get("/posts.json?tags=fav:private_pat")
        self.assertEqual(r.status, 403)
        self.assertIn("favorites are hidden", r.json()["reason"])

    def test_rating_negation_and_or(self):
        allp = {p["id"]: p for p in self.posts("limit=320")}
        for r, long in (("s", "safe"), ("q", "questionable"), ("e", "explicit")):
            want = sorted(i for i, p in allp.items() if p["rating"] == r)
            self.assertEqual(sorted(self.ids(f"tags=rating:{r}&limit=320")), want)
            self.assertEqual(sorted(self.ids(f"tags=rating:{long}&limit=320")), want)
            self.assertEqual(sorted(self.ids(f"tags=-rating:{r}&limit=320")),
                             sorted(set(allp) - set(want)))
        tag = allp[max(allp)]["tags"]["general"][0]
        other = allp[min(allp)]["tags"]["general"][-1]

        def has(p, t):
            return any(t in v for v in p["tags"].values())
        self.assertEqual(sorted(self.ids(f"tags={tag}&limit=320")),
                         sorted(i for i, p in allp.items() if has(p, tag)))
        self.assertEqual(sorted(self.ids(f"tags=-{tag}&limit=320")),
                         sorted(i for i, p in allp.items() if not has(p, tag)))
        self.assertEqual(sorted(self.ids(f"tags=~{tag}+~{other}&limit=320")),
                         sorted(i for i, p in allp.items() if has(p, tag) or has(p, other)))
        self.assertEqual(self.ids("tags=no_such_tag_anywhere"), [])
        gifs = self.posts("tags=type:gif&limit=320")
        self.assertTrue(all(p["file"]["ext"] == "gif" and "animated" in p["tags"]["meta"] for p in gifs))

    def test_post_fields(self):
        for p in self.posts("limit=320"):
            for k in ("width", "height", "ext", "size", "md5", "url"):
                self.assertIn(k, p["file"])
            for k in ("has", "width", "height", "url"):
                self.assertIn(k, p["sample"])
            self.assertEqual(set(p["tags"]), {"general", "artist", "contributor", "copyright",
                                              "character", "species", "invalid", "meta", "lore"})
            n = sum(len(v) for v in p["tags"].values())
            self.assertTrue(18 <= n <= 45, n)
            self.assertIn(p["rating"], "sqe")
            self.assertLessEqual(p["score"]["down"], 0)
            self.assertEqual(p["score"]["total"], p["score"]["up"] + p["score"]["down"])
            self.assertRegex(p["created_at"], ISO)
            self.assertIn(p["vote"], (-1, 0, 1))
            self.assertIsInstance(p["is_favorited"], bool)
            for k in ("deleted", "pending", "flagged"):
                self.assertIn(k, p["flags"])
            if p["file"]["url"]:
                self.assertTrue(p["file"]["url"].startswith(self.site.url + "/data/"))
            if not p["sample"]["has"]:
                self.assertEqual(p["sample"]["url"], p["file"]["url"])
        st = self.site.user_state()
        fav = self.get(f"/posts/{st['favorites'][0]}.json").json()["post"]
        self.assertTrue(fav["is_favorited"])
        down = self.get(f"/posts/{st['downvotes'][0]}.json").json()["post"]
        self.assertEqual(down["vote"], -1)
        anon = self.get(f"/posts/{st['downvotes'][0]}.json", auth=False).json()["post"]
        self.assertNotIn("vote", anon)
        self.assertFalse(anon["is_favorited"])
        self.assertEqual(self.get("/posts/1.json").status, 404)

    def test_null_urls(self):
        deleted = self.posts("tags=status:deleted&limit=320")
        self.assertTrue(deleted)
        for p in deleted:
            self.assertTrue(p["flags"]["deleted"])
            self.assertIsNone(p["file"]["url"])
            self.assertIsNone(p["sample"]["url"])
            self.assertIsNone(p["preview"]["url"])
        lists = f"limit=320&tags=~fav:{self.site.user}+~voteddown:{self.site.user}"
        self.assertFalse(any(p["flags"]["deleted"] for p in self.posts(lists)),
                         "deleted posts are left out of searches, the user's lists included")
        self.assertTrue(any(p["flags"]["deleted"] for p in self.posts(lists + "+status:any")),
                        "with status:any, the user's deleted posts come with null URLs")
        self.assertIsNone(self.get(f"/posts/{deleted[0]['id']}.json").json()["post"]["file"]["url"])
        logged = {p["id"]: p for p in self.posts("limit=320")}
        anon = {p["id"]: p for p in self.posts("limit=320", auth=False)}
        login_only = [i for i in anon if anon[i]["file"]["url"] is None]
        self.assertTrue(login_only)
        for i in login_only:
            self.assertIsNotNone(logged[i]["file"]["url"])
            self.assertIsNone(anon[i]["sample"]["url"])

    def test_e926_forces_safe(self):
        self.site.config(e926=True)
        try:
            posts = self.posts("tags=rating:e&limit=320") + self.posts("limit=320")
            self.assertTrue(posts)
            self.assertTrue(all(p["rating"] == "s" for p in posts))
        finally:
            self.site.config(e926=False)


class Votes(SiteTest):
    def vote(self, pid, score, no_unvote=None, **kw):
        data = {"score": score}
        if no_unvote is not None:
            data["no_unvote"] = "true" if no_unvote else "false"
        return self.site.request("POST", f"/posts/{pid}/votes.json", data=data, **kw)

    def my_vote(self, pid):
        st = self.site.user_state()
        return 1 if pid in st["upvotes"] else -1 if pid in st["downvotes"] else 0

    def test_toggle_and_no_unvote(self):
        p = self.any_post(lambda p: not p["flags"]["deleted"])
        pid, up0, down0 = p["id"], p["score"]["up"], p["score"]["down"]
        r = self.vote(pid, 1)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"score": up0 + 1 + down0, "up": up0 + 1, "down": down0, "our_score": 1})
        r = self.vote(pid, 1)          # repeating without no_unvote removes it
        self.assertEqual(r.json()["our_score"], 0)
        self.assertEqual(r.json()["up"], up0)
        self.assertEqual(self.my_vote(pid), 0)
        self.assertEqual(self.vote(pid, 1, no_unvote=True).json()["our_score"], 1)
        r = self.vote(pid, 1, no_unvote=True)   # kept: our_score reads 0
        self.assertEqual(r.json()["our_score"], 0)
        self.assertEqual(r.json()["up"], up0 + 1)
        self.assertEqual(self.my_vote(pid), 1)
        r = self.vote(pid, -1, no_unvote=True)
        self.assertEqual(r.json(), {"score": up0 + down0 - 1, "up": up0, "down": down0 - 1, "our_score": -1})
        self.assertEqual(self.my_vote(pid), -1)
        self.assertIn(pid, self.ids(f"tags=voteddown:{self.site.user}&limit=320"))
        r = self.site.request("DELETE", f"/posts/{pid}/votes.json")
        self.assertIn(r.status, (200, 204))
        self.assertEqual(self.my_vote(pid), 0)
        r = self.site.request("DELETE", f"/posts/{pid}/votes.json")
        self.assertIn(r.status, (200, 204))

    def test_bad_votes(self):
        pid = self.ids("limit=1")[0]
        for bad in ("2", "0", "up", ""):
            r = self.vote(pid, bad)
            self.assertEqual(r.status, 422, bad)
            self.assertIn("message", r.json())
        self.assertEqual(self.vote(999, 1).status, 404)

    def test_hourly_vote_cap(self):
        self.site.config(vote_cap=2)
        pid = self.ids("limit=1")[0]
        self.assertEqual(self.vote(pid, 1, True).status, 200)
        self.assertEqual(self.vote(pid, 1, True).status, 200)
        r = self.vote(pid, 1, True)
        self.assertEqual(r.status, 422)
        self.assertIn("limit", r.json()["message"])


class Favorites(SiteTest):
    def test_add_twice_and_remove_idempotently(self):
        p = self.any_post(lambda p: not p["flags"]["deleted"])
        pid, n = p["id"], p["fav_count"]
        r = self.site.request("POST", "/favorites.json", data={"post_id": pid})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"post_id": pid, "favorite_count": n + 1})
        self.assertIn(pid, self.site.user_state()["favorites"])
        self.assertIn(pid, self.ids(f"tags=fav:{self.site.user}&limit=320"))
        r = self.site.request("POST", "/favorites.json", data={"post_id": pid})
        self.assertEqual(r.status, 422)
        self.assertIn("already favorited", r.json()["message"])
        for _ in range(2):
            r = self.site.request("DELETE", f"/favorites/{pid}.json")
            self.assertIn(r.status, (200, 204))
            self.assertNotIn(pid, self.site.user_state()["favorites"])
        self.assertEqual(self.site.request("POST", "/favorites.json", data={"post_id": 999}).status, 404)
        favs = [f for f in self.site.stats()["favorites"] if f["post_id"] == pid]
        self.assertEqual([f["action"] for f in favs], ["add", "add", "remove", "remove"])


class Limits(SiteTest):
    def test_more_than_two_per_second_is_503_html(self):
        self.site.config(rate_limit=2)
        self.site.reset_stats()
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            answers = list(ex.map(lambda _: self.get("/posts.json?limit=1"), range(6)))
        codes = sorted(a.status for a in answers)
        self.assertEqual(codes[:2], [200, 200])
        self.assertIn(503, codes)
        self.assertEqual(set(codes), {200, 503})
        for a in answers:
            if a.status == 503:
                self.assertEqual(a.content_type, "text/html")
                self.assertIn(b"<html", a.body)
        self.assertGreaterEqual(self.site.stats()["max_api_per_second"], 3)
        time.sleep(1.05)
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)

    def test_images_are_not_rate_limited(self):
        url = [p for p in self.posts("limit=30") if p["preview"]["url"]][0]["preview"]["url"]
        self.site.config(rate_limit=2)
        for _ in range(5):
            self.assertEqual(self.get(url).status, 200)

    def test_write_throttle_429(self):
        self.site.config(write_budget=3)
        path = f"/users/{self.site.user}.json"
        bl = self.get(path).json()["blacklisted_tags"]
        for _ in range(3):
            self.assertEqual(self.site.request("PUT", path, data={"user[blacklisted_tags]": bl}).status, 204)
        r = self.site.request("PUT", path, data={"user[blacklisted_tags]": bl})
        self.assertEqual(r.status, 429)
        self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        # Votes and favourites do not count towards the budget.
        pid = self.ids("limit=1")[0]
        r = self.site.request("POST", f"/posts/{pid}/votes.json", data={"score": 1, "no_unvote": "true"})
        self.assertEqual(r.status, 200)
        self.assertIn(self.site.request("DELETE", f"/favorites/{pid}.json").status, (200, 204))
        self.assertEqual(self.get(path).json()["blacklisted_tags"], bl)


class Faults(SiteTest):
    def image_url(self):
        return [p for p in self.posts("tags=type:jpg&limit=30") if p["sample"]["url"]][0]["sample"]["url"]

    def test_slow(self):
        self.site.fault("slow", count=1, delay_ms=400)
        t = time.monotonic()
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.4)

    def test_timeout(self):
        self.site.fault("timeout", count=1, delay_ms=10000)
        t = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.get("/posts.json?limit=1", timeout=0.5)
        self.assertLess(time.monotonic() - t, 3)
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)

    def test_status_faults(self):
        cases = [("500", 500, "application/json"), ("502", 502, "text/html"),
                 ("503", 503, "text/html"), ("429", 429, "application/json"),
                 ("html_error", 520, "text/html")]
        for mode, status, ctype in cases:
            self.site.fault(mode, count=1, retry_after=7)
            r = self.get("/posts.json?limit=1")
            self.assertEqual(r.status, status, mode)
            self.assertEqual(r.content_type, ctype, mode)
            if ctype == "application/json":
                self.assertFalse(r.json()["success"])
            self.assertEqual(self.get("/posts.json?limit=1").status, 200)
        self.site.fault("429", count=1, retry_after=7)
        self.assertEqual(self.get("/posts.json").headers["Retry-After"], "7")
        self.site.fault("html_error", count=1, status=200)
        r = self.get("/posts.json")
        self.assertEqual((r.status, r.content_type), (200, "text/html"))

    def test_malformed_json_and_wrong_type(self):
        self.site.fault("malformed_json", count=1)
        r = self.get("/posts.json?limit=2")
        self.assertEqual((r.status, r.content_type), (200, "application/json"))
        with self.assertRaises(ValueError):
            json.loads(r.body)
        self.site.fault("wrong_content_type", count=1)
        r = self.get("/posts.json?limit=2")
        self.assertEqual(r.content_type, "text/html")
        url = self.image_url()
        self.site.fault("wrong_content_type", count=1, path="^/data/")
        self.assertEqual(self.get(url).content_type, "text/html")
        self.assertEqual(self.get(url).content_type, "image/jpeg")

    def test_generic_status_and_trickle(self):
        self.site.fault("status", count=1, status=423, message="Favorites are being moved")
        r = self.site.request("POST", "/favorites.json", data={"post_id": 1})
        self.assertEqual(r.status, 423)
        self.assertEqual(r.json()["message"], "Favorites are being moved")
        url = self.image_url()
        size = len(self.get(url).body)
        self.site.fault("slow", count=1, path="^/data/", bytes_per_s=size * 2)
        t = time.monotonic()
        self.assertEqual(len(self.get(url).body), size)
        self.assertGreaterEqual(time.monotonic() - t, 0.4)

    def test_reset(self):
        self.site.fault("reset", count=1)
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.get("/posts.json?limit=1")
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)

    def test_image_faults(self):
        url = self.image_url()
        good = self.get(url).body
        self.assertEqual(good[-2:], b"\xff\xd9")
        self.site.fault("truncated_image", count=1)
        r = self.get(url)
        self.assertEqual(r.status, 200)
        self.assertLess(len(r.body), len(good))
        self.assertEqual(r.body, good[:len(r.body)])
        self.site.fault("corrupt_image", count=1)
        r = self.get(url)
        self.assertEqual(len(r.body), len(good))
        self.assertNotEqual(r.body, good)
        with self.assertRaises(AssertionError):
            image_size(r.body)
        self.site.fault("huge_image", count=1)
        self.assertEqual(image_size(self.get(url).body), (60000, 60000))
        self.assertEqual(self.get(url).body, good)
        # API paths are untouched by image faults.
        self.site.fault("corrupt_image")
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)

    def test_count_path_skip_and_clear(self):
        pid = self.ids("limit=1")[0]
        self.site.fault("500", count=2, path=r"^/posts/\d+\.json$")
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)
        self.assertEqual([self.get(f"/posts/{pid}.json").status for _ in range(3)], [500, 500, 200])
        self.site.fault("502", skip=1, count=1)
        self.assertEqual([self.get("/posts.json?limit=1").status for _ in range(3)], [200, 502, 200])
        self.site.fault("503")
        self.assertEqual(self.get("/posts.json").status, 503)
        self.assertEqual(self.get("/posts.json").status, 503)
        self.site.clear_faults()
        self.assertEqual(self.get("/posts.json").status, 200)
        r = self.site.request("POST", "/_test/faults", data=b'{"mode": "nope"}', auth=False,
                              headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)


class Stats(SiteTest):
    def test_stats(self):
        self.site.reset_stats()
        self.get("/posts.json?limit=1&login=x&api_key=y", auth=False)
        self.get(f"/posts.json?limit=1&login={self.site.user}&api_key={self.site.api_key}", auth=False)
        self.get(f"/posts.json?tags={self.site.api_key}", auth=False)
        posts = self.posts("limit=20")
        url = [p for p in posts if p["sample"]["url"]][0]["sample"]["url"]
        other = [p for p in posts if p["preview"]["url"]][1]["preview"]["url"]
        self.get(url, user_agent="ImageFetcher/2")
        self.get(url)
        self.get(other)
        st = self.site.stats()
        self.assertEqual(len(st["key_in_url"]), 3)
        self.assertNotIn(self.site.api_key, json.dumps(st["key_in_url"]))
        self.assertEqual(st["images_served"][url], 2)
        self.assertEqual(st["images_served_twice"], [url])
        self.assertIn("ImageFetcher/2", st["user_agents"])
        self.assertEqual(st["requests"]["GET /posts.json"], 4)
        self.assertEqual(st["requests"]["GET /data/sample"], 2)
        self.assertEqual(st["api_requests"], 4)
        self.assertEqual(st["requests"]["GET /data/preview"], 1)
        self.assertEqual(st["status_counts"], {"200": 6, "401": 1})
        self.assertEqual(st["status_counts"]["401"], 1)
        self.site.reset_stats()
        self.assertEqual(self.site.stats()["api_requests"], 0)


class WorldActions(SiteTest):
    def test_add_posts_and_user_actions(self):
        top = max(self.ids("limit=5"))
        new = self.site.add_posts(3)
        self.assertEqual(len(new), 3)
        self.assertGreater(min(new), top)
        self.assertEqual(self.ids("limit=3"), sorted(new, reverse=True))
        self.assertEqual(self.site.truth()["posts"][str(new[0])]["list"], "other")
        self.site.user_vote(new[0], 1)
        self.assertIn(new[0], self.ids(f"tags=votedup:{self.site.user}"))
        self.site.user_vote(new[0], 0)
        self.assertNotIn(new[0], self.ids(f"tags=votedup:{self.site.user}"))
        self.site.user_favorite(new[1], True)
        self.assertIn(new[1], self.site.user_state()["favorites"])
        self.site.user_favorite(new[1], False)
        self.assertNotIn(new[1], self.site.user_state()["favorites"])


class Images(SiteTest):
    def assert_decodes(self, data, ext):
        """libvips decodes the whole file without a warning."""
        if not shutil.which("vips"):
            return
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in." + ext)
            with open(src, "wb") as f:
                f.write(data)
            r = subprocess.run(["vips", "copy", src + "[fail=true]", os.path.join(d, "out.v")],
                               capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_encoders_agree(self):
        px = render.render_rgb(7, True, 120, 90)
        with tempfile.TemporaryDirectory() as d:
            for ext in ("jpg", "png", "gif"):
                a = encode.encode(px, 120, 90, ext, d)
                b = encode.encode_cli(px, 120, 90, ext, d)
                self.assertEqual(image_size(a), (120, 90))
                self.assertEqual(image_size(b), (120, 90))
                for extra in (21, 70000):
                    padded = encode.pad_to(a, ext, len(a) + extra)
                    self.assertEqual(len(padded), len(a) + extra)
                    self.assert_decodes(padded, ext)

    def test_pregenerate(self):
        with FakeSite(liked=8, disliked=8, both=0, others=8, pregenerate=2) as site:
            end = time.monotonic() + 30
            while True:
                st = site._control("GET", "/_test/images")
                if st["warm_done"] == st["warm_total"] or time.monotonic() > end:
                    break
                time.sleep(0.1)
            self.assertEqual(st["warm_done"], st["warm_total"])
            self.assertGreater(st["warm_total"], 10)
            self.assertEqual(len(site.stats()["images_served"]), 0)

    def test_images_are_real_files_of_the_declared_size(self):
        posts = [p for p in self.posts("limit=320") if p["file"]["url"]]
        picks = {}
        for p in sorted(posts, key=lambda p: p["file"]["width"] * p["file"]["height"]):
            f = p["file"]
            picks.setdefault(f["ext"], p)
            if p["sample"]["has"]:
                picks.setdefault("portrait" if f["height"] > f["width"] else "landscape", p)
            elif f["ext"] == "jpg":
                picks.setdefault("small", p)
        self.assertLessEqual({"jpg", "png", "gif", "webm", "swf", "portrait", "landscape", "small"},
                             set(picks))
        for p in picks.values():
            ext = p["file"]["ext"]
            if p["sample"]["has"]:
                r = self.get(p["sample"]["url"])
                self.assertEqual(r.content_type, "image/jpeg")
                self.assertEqual(image_size(r.body), (p["sample"]["width"], p["sample"]["height"]))
                self.assert_decodes(r.body, "jpg")
                self.assertEqual(p["sample"]["width"], 850)
                self.assertGreater(p["file"]["width"], 850)
            if ext in ("jpg", "png", "gif"):
                r = self.get(p["file"]["url"])
                self.assertEqual(image_size(r.body), (p["file"]["width"], p["file"]["height"]), ext)
                self.assertEqual(r.content_type, "image/" + {"jpg": "jpeg"}.get(ext, ext))
                self.assertEqual(len(r.body), p["file"]["size"], "an original is as large as declared")
                self.assert_decodes(r.body, ext)
            else:
                r = self.get(p["file"]["url"])
                self.assertEqual(len(r.body), p["file"]["size"])
                self.assertEqual(r.body[:4], b"\x1a\x45\xdf\xa3" if ext == "webm" else b"FWS\x0a")
            r = self.get(p["preview"]["url"])
            self.assertEqual(image_size(r.body), (p["preview"]["width"], p["preview"]["height"]))
        for bad in ("/data/00/00/" + "0" * 32 + ".jpg", "/data/sample/../../etc/passwd",
                    "/data/sample/zz/zz/" + "z" * 32 + ".jpg"):
            r = self.get(bad)
            self.assertEqual((r.status, r.content_type), (404, "text/html"), bad)
        nosample = [p for p in posts if not p["sample"]["has"] and p["file"]["ext"] == "jpg"][0]
        r = self.get(nosample["file"]["url"].replace("/data/", "/data/sample/"))
        self.assertEqual(r.status, 404, "no sample file where the post has none")

    def test_parallel_downloads_are_concurrent(self):
        urls = [p["preview"]["url"] for p in self.posts("limit=40") if p["preview"]["url"]][:4]
        for u in urls:
            self.get(u)
        self.site.config(latency_ms=1000)
        t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            codes = list(ex.map(lambda u: self.get(u).status, urls))
        self.assertEqual(codes, [200] * 4)
        self.assertGreaterEqual(time.monotonic() - t, 1.0)
        self.assertLess(time.monotonic() - t, 2.9, "four downloads took serial time")


class BigWorld(unittest.TestCase):
    def test_big_world_starts_fast(self):
        t = time.monotonic()
        with FakeSite(liked=700, disliked=400, both=20, others=300) as site:
            self.assertLess(time.monotonic() - t, 8)
            truth = site.truth()["posts"]
            lists = [v["list"] for v in truth.values()]
            self.assertEqual(lists.count("liked"), 700)
            self.assertEqual(lists.count("disliked"), 400)
            self.assertEqual(lists.count("both"), 20)


class Lifetime(unittest.TestCase):
    def test_sigterm_stops_and_cleans_up(self):
        site = FakeSite(liked=8, disliked=8, both=0, others=8).start()
        d = site._control("GET", "/_test/images")["dir"]
        self.assertEqual(site.request("GET", "/posts.json?limit=1").status, 200)
        self.assertTrue(os.path.isdir(d))
        proc = site.proc
        site.stop()
        self.assertEqual(proc.returncode, 0, site.stderr())
        self.assertFalse(os.path.exists(d), "the temporary image dir is removed")

    def test_data_dir_is_kept_and_reused(self):
        with tempfile.TemporaryDirectory() as d:
            with FakeSite(liked=8, disliked=8, both=0, others=8, data_dir=d) as site:
                url = [p for p in site.request("GET", "/posts.json").json()["posts"]
                       if p["preview"]["url"]][0]["preview"]["url"]
                first = site.request("GET", url).body
            with FakeSite(liked=8, disliked=8, both=0, others=8, data_dir=d) as site:
                self.assertEqual(site.request("GET", url.replace(str(url.split("/")[2]), f"127.0.0.1:{site.port}")).body, first)
            self.assertTrue(os.listdir(d))


class Taste(unittest.TestCase):
    """The hidden taste is learnable from pixels and from tags, separately."""

    @classmethod
    def setUpClass(cls):
        cls.w = world_mod.World(seed=3, liked=400, disliked=300, both=10, others=500)
        cls.posts = list(cls.w.posts.values())

    def test_label_noise(self):
        liked = [p for p in self.posts if p.truth["list"] == "liked"]
        wrong = sum(1 - p.truth["like"] for p in liked) / len(liked)
        self.assertTrue(0.02 < wrong < 0.15, wrong)

    def test_parts_are_each_predictive_and_together_strong(self):
        others = [p for p in self.posts if p.truth["list"] == "other"]
        y = [p.truth["like"] for p in others]
        self.assertGreater(auc([p.truth["pixel_part"] for p in others], y), 0.75)
        self.assertGreater(auc([p.truth["tag_part"] for p in others], y), 0.75)
        both = [world_mod.PIXEL_WEIGHT * p.truth["pixel_part"] + world_mod.TAG_WEIGHT * p.truth["tag_part"]
                for p in others]
        self.assertGreater(auc(both, y), 0.9)

    def test_tags_model_from_lists_beats_chance(self):
        """Per-tag log-odds learnt from the user's noisy lists rank the other
        posts: the tag part is visible in tags."""
        import math
        import collections
        pos, neg = collections.Counter(), collections.Counter()
        npos = nneg = 0
        for p in self.posts:
            if p.truth["list"] == "liked":
                pos.update(p.all_tags)
                npos += 1
            elif p.truth["list"] == "disliked":
                neg.update(p.all_tags)
                nneg += 1
        others = [p for p in self.posts if p.truth["list"] == "other"]

        def score(p):
            return sum(math.log((pos[t] + 1) / (npos + 2)) - math.log((neg[t] + 1) / (nneg + 2))
                       for t in p.all_tags)
        self.assertGreater(auc([score(p) for p in others], [p.truth["like"] for p in others]), 0.65)

    def test_pixel_part_has_no_tag_correlate(self):
        import collections
        n = collections.Counter()
        obj = collections.Counter()
        for p in self.posts:
            n.update(p.all_tags)
            if p.has_object:
                obj.update(p.all_tags)
        base = sum(p.has_object for p in self.posts) / len(self.posts)
        for t, c in n.items():
            if c >= 150:
                self.assertLess(abs(obj[t] / c - base), 0.15, t)

    def test_object_is_visible_in_the_centre_crop(self):
        def red_white(p, w, h):
            ppm = render.render_ppm(p.scene_seed, p.has_object, w, h)
            px = ppm[ppm.index(b"255\n") + 4:]
            s = min(w, h)
            x0, y0 = (w - s) // 2, (h - s) // 2
            reds = 0
            for y in range(y0, y0 + s, 4):
                row = px[(y * w + x0) * 3:(y * w + x0 + s) * 3]
                reds += row.count(render.RED)
            return reds
        with_obj = [p for p in self.posts if p.has_object][:6]
        without = [p for p in self.posts if not p.has_object][:6]
        for p in with_obj:
            self.assertGreater(red_white(p, 170, 240), 100)
        for p in without:
            self.assertEqual(red_white(p, 240, 170), 0)


if __name__ == "__main__":
    unittest.main()
