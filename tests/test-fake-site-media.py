#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fake e621 site's faults, images and world: every fault mode does what
it says, images are real files of the declared size, the site starts fast,
stops cleanly, and its hidden taste is learnable from pixels and from tags.
Bad input it must survive: clients that hang up, fault specs that make no
sense, requests for images that do not exist."""
import collections
import concurrent.futures
import http.client
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from fakesite import FakeSite, FakeSiteTestCase, image_size, roc_auc as auc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-e621"))
import encode  # noqa: E402
import render  # noqa: E402
import world as world_mod  # noqa: E402


class Faults(FakeSiteTestCase):
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


class Images(FakeSiteTestCase):
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
