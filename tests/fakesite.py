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
import subprocess
import sys
import tempfile
import time
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

