#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fake e621 site's API behaves as e621-api.md says, so that later tests
which pass against it mean something: auth, paging, metatags, votes,
favourites, rate limits, stats and world actions (faults and images are in
test-fake-site-media.py).
Bad input it must survive: wrong keys, malformed auth headers and bodies,
library User-Agents, paging out of range, too many terms, invalid votes."""
import base64
import concurrent.futures
import http.client
import json
import re
import time
import unittest

from fakesite import FakeSiteError, FakeSiteTestCase

AUTH_FAILURE = {"success": False, "message": "SessionLoader::AuthenticationFailure", "code": None}
ACCESS_DENIED = {"success": False, "reason": "Access Denied"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


class Auth(FakeSiteTestCase):
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
        pid = self.any_post(lambda p: not p["flags"]["deleted"])["id"]
        conn = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=5)
        cred = base64.b64encode(f"{self.site.user}:{self.site.api_key}".encode()).decode()
        conn.request("POST", "/favorites.json", body=iter([b"post_", f"id={pid}".encode()]),
                     encode_chunked=True,
                     headers={"Authorization": "Basic " + cred, "User-Agent": "fluff-tests/0.1",
                              "Content-Type": "application/x-www-form-urlencoded",
                              "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        self.assertEqual((r.status, json.loads(r.read())["post_id"]), (200, pid))
        conn.request("DELETE", f"/favorites/{pid}.json",
                     headers={"Authorization": "Basic " + cred, "User-Agent": "fluff-tests/0.1"})
        self.assertEqual(conn.getresponse().status, 204, "keep-alive survives a chunked body")
        conn.close()
        r = self.site.request("POST", "/favorites.json", data=b"{not json",
                              headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 404, "no post_id in a broken body")
        self.assertEqual(self.get("/posts.json?limit=1").status, 200)

    def test_unknown_route_is_html_404(self):
        r = self.get("/nothing/here.json")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.content_type, "text/html")


class Paging(FakeSiteTestCase):
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


class Search(FakeSiteTestCase):
    def test_vote_metatags_are_the_viewers_own(self):
        st = self.site.user_state()
        self.assertTrue(st["favorites"] and st["upvotes"] and st["downvotes"])
        deleted = set(self.all_ids("status:deleted"))
        listed = set(st["favorites"]) | set(st["upvotes"]) | set(st["downvotes"])
        self.assertEqual(set(st["deleted"]), deleted & listed)
        self.assertTrue(st["deleted"])
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


class Votes(FakeSiteTestCase):
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


class Favorites(FakeSiteTestCase):
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


class Limits(FakeSiteTestCase):
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


class Stats(FakeSiteTestCase):
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


class WorldActions(FakeSiteTestCase):
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

    def test_voted_posts_and_flipped_labels(self):
        new = self.site.add_voted_posts(4)
        truth = self.site.truth()["posts"]
        up = set(self.ids(f"tags=votedup:{self.site.user}&limit=10"))
        down = set(self.ids(f"tags=voteddown:{self.site.user}&limit=10"))
        for i in new:
            self.assertIn(i, up if truth[str(i)]["like"] else down)

        before = self.site.user_state()
        liked = set(before["favorites"]) | set(before["upvotes"])
        labelled = liked | set(before["downvotes"])
        flipped = self.site.flip_labels(0.25, seed=3)
        self.assertEqual(len(flipped), round(len(labelled) * 0.25))
        self.assertEqual(self.site.flip_labels(0.0), [])
        after = self.site.user_state()
        for i in flipped:
            if i in liked:
                self.assertIn(i, after["downvotes"])
                self.assertNotIn(i, after["favorites"])
            else:
                self.assertIn(i, after["upvotes"])
        unflipped = labelled - set(flipped)
        self.assertEqual(unflipped & set(before["downvotes"]), unflipped & set(after["downvotes"]))
        with self.assertRaises(FakeSiteError):
            self.site.flip_labels(2)


if __name__ == "__main__":
    unittest.main()
