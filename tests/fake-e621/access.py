# SPDX-License-Identifier: MIT
"""Who may do what, how often: Basic auth, the User-Agent rule, the 2/s API
rate limit (503), the logged-in write throttle (429) and the hourly vote cap
(422) — the site's rules as e621-api.md describes them."""
import base64
import binascii
import collections
import threading
import time

AUTH_FAILURE = {"success": False, "message": "SessionLoader::AuthenticationFailure", "code": None}
ACCESS_DENIED = {"success": False, "reason": "Access Denied"}

# Prefixes of library default agents that the site blocks.
BLOCKED_AGENTS = ("curl/", "libcurl", "python-requests/", "python-urllib/",
                  "python-httpx/", "aiohttp/", "wget/", "go-http-client/",
                  "okhttp/", "java/", "axios/", "node-fetch/", "undici",
                  "mozilla/5.0 (compatible; python")


def agent_allowed(ua):
    ua = (ua or "").strip()
    if not ua:
        return False
    return not ua.lower().startswith(BLOCKED_AGENTS)


class AuthError(Exception):
    pass


def authenticate(world, header, query):
    """The logged-in User, None for anonymous; AuthError for any bad
    credentials (never a fallback to anonymous)."""
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "basic" or not value.strip():
            raise AuthError()
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError()
        name, sep, key = raw.partition(":")
        if not sep:
            raise AuthError()
    elif "login" in query or "api_key" in query:
        name = query.get("login", [""])[0]
        key = query.get("api_key", [""])[0]
    else:
        return None
    user = world.find_user(name)
    if user is None or user.api_key is None or key != user.api_key:
        raise AuthError()
    return user


class Window:
    """Events in a sliding window; `allow` records one when under the cap."""

    def __init__(self, cap, seconds):
        self.cap = cap
        self.seconds = seconds
        self.times = collections.deque()
        self.lock = threading.Lock()

    def _trim(self, now):
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()

    def allow(self, now=None):
        """True (and counted) when under the cap; a cap of 0 never limits."""
        now = time.monotonic() if now is None else now
        with self.lock:
            if not self.cap:
                return True
            self._trim(now)
            if len(self.times) >= self.cap:
                return False
            self.times.append(now)
            return True

    def retry_after(self, now=None):
        now = time.monotonic() if now is None else now
        with self.lock:
            self._trim(now)
            if not self.times:
                return 1
            return max(1, int(self.times[0] + self.seconds - now + 0.999))

    def reset(self):
        with self.lock:
            self.times.clear()
