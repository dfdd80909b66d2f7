# SPDX-License-Identifier: MIT
"""Starts the fake e621 site for a test and talks to its /_test/ controls.

    from fakesite import FakeSite
    with FakeSite(liked=60, disliked=60) as site:
        site.url, site.user, site.api_key
        site.fault("503", count=2, path=r"^/posts\\.json")
"""
import base64
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "fake-e621", "fake_e621.py")
USER_AGENT = "fluff-tests/0.1 (by fluffy_tester on e621)"


class FakeSiteError(RuntimeError):
    pass


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def json(self):
        return json.loads(self.body)


class FakeSite:
    """Options map to the server's flags: seed, data_dir, user, api_key,
    liked, disliked, both, others, latency_ms, e926, rate_limit,
    write_budget, vote_cap, pregenerate, verbose."""

    def __init__(self, startup_timeout=30, **opts):
        self.opts = opts
        self.startup_timeout = startup_timeout
        self.proc = None
        self.errfile = None
        self._stderr = ""
        self.url = self.port = self.user = self.api_key = None

    # ---- lifetime -------------------------------------------------------
    def start(self):
        cmd = [sys.executable, "-B", SERVER, "--port", "0"]
        for k, v in self.opts.items():
            if v is None or v is False:
                continue
            flag = "--" + k.replace("_", "-")
            cmd += [flag] if v is True else [flag, str(v)]
        self.errfile = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errfile)
        line = b""
        end = time.monotonic() + self.startup_timeout
        while not line.endswith(b"\n"):
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise FakeSiteError("fake site did not start:\n" + self.stderr())
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                line += chunk
        info = json.loads(line)
        self.url, self.port = info["url"], info["port"]
        self.user, self.api_key = info["user"], info["api_key"]
        return self

    def stderr(self):
        """What the server wrote to stderr so far (kept after stop())."""
        if self.errfile is not None:
            self.errfile.seek(0)
            self._stderr = self.errfile.read().decode("utf-8", "replace")
        return self._stderr

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc = None
        self.stderr()
        self.errfile.close()
        self.errfile = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        died = self.proc is not None and self.proc.poll() is not None
        self.stop()
        if died and exc[0] is None:
            raise FakeSiteError("fake site died during the test:\n" + self.stderr())

    # ---- raw HTTP for tests ---------------------------------------------
    def request(self, method, path, data=None, auth=True, user=None, api_key=None,
                user_agent=USER_AGENT, headers=None, timeout=30):
        """A Response for any status; `data` is a dict sent as a form, or
        bytes; auth=True uses the site's user and key."""
        url = path if path.startswith("http") else self.url + path
        hdrs = dict(headers or {})
        if user_agent is not None:
            hdrs["User-Agent"] = user_agent
        if auth:
            cred = f"{user or self.user}:{api_key or self.api_key}"
            hdrs["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        body = None
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif data is not None:
            body = data
        req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def _control(self, method, path, obj=None):
        data = None if obj is None else json.dumps(obj).encode()
        r = self.request(method, path, data=data, auth=False,
                         headers={"Content-Type": "application/json"})
        if r.status != 200:
            raise FakeSiteError(f"{method} {path}: {r.status} {r.body[:200]!r}")
        return r.json()

    # ---- controls -------------------------------------------------------
    def stats(self):
        return self._control("GET", "/_test/stats")

    def reset_stats(self):
        return self._control("POST", "/_test/stats/reset", {})

    def fault(self, mode, count=None, path=None, **extra):
        spec = {"mode": mode, **extra}
        if count is not None:
            spec["count"] = count
        if path is not None:
            spec["path"] = path
        return self._control("POST", "/_test/faults", spec)

    def clear_faults(self):
        return self._control("DELETE", "/_test/faults")

    def truth(self):
        return self._control("GET", "/_test/truth")

    def user_state(self):
        return self._control("GET", "/_test/user")

    def config(self, **settings):
        """Changes rate_limit, write_budget, vote_cap, latency_ms, e926."""
        if settings:
            return self._control("POST", "/_test/config", settings)
        return self._control("GET", "/_test/config")

    def add_posts(self, count):
        return self._control("POST", "/_test/world", {"action": "add_posts", "count": count})["ids"]

    def user_vote(self, post_id, score):
        return self._control("POST", "/_test/world",
                             {"action": "user_vote", "post_id": post_id, "score": score})

    def user_favorite(self, post_id, on=True):
        return self._control("POST", "/_test/world",
                             {"action": "user_favorite", "post_id": post_id, "on": on})

    def override_post(self, post_id, tags=None, url=None):
        """Hostile content for one post: extra tags ({category: [names]}) and
        one URL for its file, sample and preview."""
        body = {"action": "override_post", "post_id": post_id}
        if tags is not None:
            body["tags"] = tags
        if url is not None:
            body["url"] = url
        return self._control("POST", "/_test/world", body)

    def add_voted_posts(self, count):
        """New posts voted on by the user's taste (up for a like, down for a dislike)."""
        return self._control("POST", "/_test/world", {"action": "add_voted_posts", "count": count})["ids"]

    def flip_labels(self, fraction, seed=0):
        """Flips that share of the user's labels on the site; the flipped ids."""
        return self._control("POST", "/_test/world",
                             {"action": "flip_labels", "fraction": fraction, "seed": seed})["ids"]


def image_size(data):
    """(width, height) from a JPEG SOF, PNG IHDR or GIF header; AssertionError
    when `data` is none of these or its JPEG markers are broken."""
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


def roc_auc(scores, labels):
    """ROC AUC of `scores` against 0/1 `labels` (ties count half)."""
    pairs = sorted(zip(scores, labels), key=lambda t: t[0])
    npos = sum(1 for _, y in pairs if y)
    nneg = len(pairs) - npos
    if not npos or not nneg:
        raise ValueError("roc_auc needs both classes")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        rank_sum += (i + 1 + j) / 2 * sum(1 for _, y in pairs[i:j] if y)
        i = j
    return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg)


class FakeSiteTestCase(unittest.TestCase):
    """A unittest base: one small fake site shared by the tests of a class
    (override `site_opts`), faults cleared and limits reset before each
    test; the API rate limit is off unless a test switches it on."""
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
