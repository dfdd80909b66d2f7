# SPDX-License-Identifier: MIT
"""What tests ask afterwards: what was requested, how fast, by whom, and
whether the key ever travelled in a URL."""
import collections
import threading
import time


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.requests = collections.Counter()
            self.api_requests = 0
            self.api_window = collections.deque()
            self.max_api_per_second = 0
            self.images = collections.Counter()
            self.key_in_url = []
            self.user_agents = []
            self.votes = []
            self.favorites = []
            self.status_counts = collections.Counter()
            self.in_progress = getattr(self, "in_progress", 0)

    def request(self, endpoint, ua, api, key_in_url_path=None):
        now = time.monotonic()
        with self.lock:
            self.requests[endpoint] += 1
            if ua not in self.user_agents:
                self.user_agents.append(ua)
            if key_in_url_path is not None:
                self.key_in_url.append(key_in_url_path)
            if api:
                self.api_requests += 1
                w = self.api_window
                w.append(now)
                while w and w[0] <= now - 1.0:
                    w.popleft()
                self.max_api_per_second = max(self.max_api_per_second, len(w))

    def begin(self):
        """A request is being answered: a test that kills the client can
        wait until the site has finished what was already sent."""
        with self.lock:
            self.in_progress += 1

    def end(self):
        with self.lock:
            self.in_progress -= 1

    def status(self, code):
        with self.lock:
            self.status_counts[str(code)] += 1

    def image(self, url):
        with self.lock:
            self.images[url] += 1

    def vote(self, post_id, score, no_unvote, method="POST"):
        with self.lock:
            self.votes.append({"post_id": post_id, "score": score,
                               "no_unvote": no_unvote, "method": method})

    def favorite(self, post_id, action):
        with self.lock:
            self.favorites.append({"post_id": post_id, "action": action})

    def snapshot(self):
        with self.lock:
            return {
                "requests": dict(self.requests),
                "api_requests": self.api_requests,
                "max_api_per_second": self.max_api_per_second,
                "images_served": dict(self.images),
                "images_served_twice": sorted(u for u, n in self.images.items() if n > 1),
                "key_in_url": list(self.key_in_url),
                "user_agents": list(self.user_agents),
                "votes": list(self.votes),
                "favorites": list(self.favorites),
                "status_counts": dict(self.status_counts),
                "in_progress": self.in_progress,
            }
