#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The hard world (--world hard): objects that differ by shape only, tagged
on a third of the posts that show them; taste mixing objects, artists,
general tags and noise; drift over time. Quality numbers are measured on it,
so what it promises is tested here."""
import collections
import os
import sys
import unittest

from fakesite import FakeSite, roc_auc as auc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-e621"))
import hard_world  # noqa: E402
import render  # noqa: E402
from world import World  # noqa: E402


class HardTaste(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = hard_world.HardWorld(seed=5, liked=400, disliked=260, both=4, others=1200)
        cls.posts = sorted(cls.w.posts.values(), key=lambda p: p.id)
        cls.others = [p for p in cls.posts if p.truth["list"] == "other"]

    def test_lists_and_noise(self):
        lists = collections.Counter(p.truth["list"] for p in self.posts)
        self.assertEqual((lists["liked"], lists["disliked"]), (400, 260))
        liked = [p for p in self.posts if p.truth["list"] == "liked"]
        wrong = sum(1 - p.truth["like"] for p in liked) / len(liked)
        self.assertTrue(0.04 < wrong < 0.25, wrong)

    def test_objects_tagged_on_some_posts_only(self):
        shown = [p for p in self.posts if p.obj is not None]
        tagged = [p for p in shown if hard_world.OBJECT_TAGS[p.obj] in p.all_tags]
        self.assertTrue(0.25 < len(tagged) / len(shown) < 0.42, len(tagged) / len(shown))
        self.assertEqual(len(tagged), sum(p.truth["object_tagged"] for p in self.posts))
        untagged = [p for p in self.posts if p.obj is None]
        self.assertFalse(any(t in p.all_tags for p in untagged
                             for t in hard_world.OBJECT_TAGS.values()))
        self.assertEqual(set(p.obj for p in shown), set(hard_world.OBJECTS))

    def test_no_single_part_decides(self):
        y = [p.truth["like"] for p in self.others]
        for part in ("pixel_part", "artist_part", "tag_part"):
            a = auc([p.truth[part] for p in self.others], y)
            self.assertTrue(0.55 < a < 0.85, (part, a))
        full = [hard_world.PIXEL_W * p.truth["pixel_part"] + hard_world.ARTIST_W * p.truth["artist_part"]
                + hard_world.TAG_W * p.truth["tag_part"] for p in self.others]
        self.assertGreater(auc(full, y), 0.85)

    def test_ids_follow_time_and_taste_drifts(self):
        ts = [p.t for p in self.posts]
        self.assertEqual(ts, sorted(ts))
        labelled = [p for p in self.posts if p.truth["list"] in ("liked", "disliked")]
        self.assertLess(max(p.t for p in labelled), hard_world.LABELLED_T_MAX)
        self.assertEqual(hard_world.object_value("star", 0.0), 1.0)
        self.assertEqual(hard_world.object_value("star", 1.0), 0.0)
        self.assertEqual(hard_world.object_value("arrow", 1.0), 1.0)
        new = self.w.add_posts(3)
        self.assertTrue(all(self.w.posts[i].t > 1.0 for i in new))
        self.assertEqual(new, sorted(new))

    def test_pictures_differ_by_shape_not_scene(self):
        w, h = 300, 240
        blank = render.render_hard_rgb(77, None, w, h)
        self.assertEqual(blank, render.render_hard_rgb(77, None, w, h), "deterministic")
        drawn = {o: render.render_hard_rgb(77, o, w, h) for o in hard_world.OBJECTS}
        for o, rgb in drawn.items():
            self.assertEqual(len(rgb), w * h * 3)
            changed = sum(1 for i in range(0, len(rgb), 3) if rgb[i:i + 3] != blank[i:i + 3])
            self.assertGreater(changed, 0.005 * w * h, o)
        # same seed: same colour, place, size and angle; only the outline differs
        self.assertEqual(len(set(drawn.values())), len(drawn))

    def test_md5_differs_from_the_bullseye_world(self):
        b = World(seed=5, liked=8, disliked=8, both=0, others=8)
        h = hard_world.HardWorld(seed=5, liked=8, disliked=8, both=0, others=8)
        self.assertFalse(set(b.by_md5) & set(h.by_md5))
        self.assertEqual(len(h.by_md5), len(h.posts))


class HardSite(unittest.TestCase):
    def test_served_with_the_option_and_truth_says_the_object(self):
        with FakeSite(world="hard", liked=30, disliked=20, both=0, others=30, rate_limit=0) as site:
            truth = site.truth()["posts"]
            self.assertTrue(all("object" in v and "t" in v for v in truth.values()))
            post = site.request("GET", "/posts.json?limit=5").json()["posts"][0]
            url = post["sample"]["url"] or post["file"]["url"]
            r = site.request("GET", url)
            self.assertEqual(r.status, 200)
            self.assertGreater(len(r.body), 1000)


if __name__ == "__main__":
    unittest.main()
