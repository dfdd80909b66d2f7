# SPDX-License-Identifier: MIT
"""A test class whose tests share one fake site and one fluffd, logged in and
synced once for them all:

    class Predict(SyncedCase):
        SEED, SITE = 17, dict(liked=150, disliked=150, others=220, rate_limit=0)

        def test_x(self):
            self.ctl("predict", "rating:s")      # self.site, self.d as well

SITE goes to FakeSite (its cache folder follows the seed), CONFIG to fluffd's
config file, REMEMBER to the login. A subclass that needs more set-up extends
setUpClass and calls super() first."""
import unittest

from fakesite import FakeSite
from fluffd import Fluffd, fresh_state, site_cache_dir


class SyncedCase(unittest.TestCase):
    SEED = 1
    SITE = {}
    CONFIG = {"rate_limit": 2, "image_size": 64}
    REMEMBER = False

    @classmethod
    def setUpClass(cls):
        fresh_state()
        cls.site = FakeSite(seed=cls.SEED, data_dir=site_cache_dir(cls.SEED), **cls.SITE).start()
        cls.d = Fluffd(site=cls.site.url, config=dict(cls.CONFIG))
        try:
            cls.d.start()
            r = cls.d.login(cls.site.user, cls.site.api_key, remember=cls.REMEMBER)
            assert r.returncode == 0, r
            r = cls.d.ctl("sync")
            assert r.returncode == 0, f"{r!r}\n{cls.d.log()[-3000:]}"
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.__exit__(None, None, None)
        finally:
            cls.site.stop()

    def ctl(self, *args, **kw):
        return self.d.ctl(*args, **kw)
