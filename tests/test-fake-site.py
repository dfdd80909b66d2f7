#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fake e621 site behaves as e621-api.md says."""
import unittest

from fakesite import FakeSite


class Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.site = FakeSite(liked=20, disliked=20, others=40, rate_limit=0).start()

    @classmethod
    def tearDownClass(cls):
        cls.site.stop()

    def test_posts(self):
        r = self.site.request("GET", "/posts.json?limit=5")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.json()["posts"]), 5)


if __name__ == "__main__":
    unittest.main()
