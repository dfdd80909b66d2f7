# SPDX-License-Identifier: MIT
"""The /_test/ control endpoints: stats, faults, ground truth, the user's
state, changes to the world and run-time settings. No auth, no rate limit,
not counted."""
from faults import FaultError


def handle(site, method, path, body):
    """(status, json body) or None when the path is not a control route."""
    key = (method, path.rstrip("/"))
    if key == ("GET", "/_test/stats"):
        return 200, site.stats.snapshot()
    if key == ("POST", "/_test/stats/reset"):
        site.stats.reset()
        return 200, {"ok": True}
    if key == ("GET", "/_test/faults"):
        return 200, {"faults": site.faults.describe()}
    if key == ("POST", "/_test/faults"):
        try:
            site.faults.add(body if isinstance(body, dict) else {})
        except (FaultError, ValueError, TypeError) as e:
            return 400, {"error": str(e)}
        return 200, {"faults": site.faults.describe()}
    if key == ("DELETE", "/_test/faults"):
        site.faults.clear()
        return 200, {"faults": []}
    if key == ("GET", "/_test/images"):
        return 200, site.images.status()
    if key == ("GET", "/_test/truth"):
        return 200, {"posts": site.world.truth()}
    if key == ("GET", "/_test/user"):
        return 200, site.world.user_state()
    if key == ("POST", "/_test/world"):
        return _world(site, body if isinstance(body, dict) else {})
    if key == ("GET", "/_test/config"):
        return 200, site.config()
    if key == ("POST", "/_test/config"):
        try:
            site.configure(body if isinstance(body, dict) else {})
        except (ValueError, TypeError) as e:
            return 400, {"error": str(e)}
        return 200, site.config()
    return None


def _world(site, body):
    w = site.world
    action = body.get("action")
    try:
        if action == "add_posts":
            return 200, {"ids": w.add_posts(int(body.get("count", 1)))}
        if action == "add_voted_posts":
            return 200, {"ids": w.add_voted_posts(int(body.get("count", 1)))}
        if action == "flip_labels":
            fraction = float(body.get("fraction", 0.5))
            if not 0.0 <= fraction <= 1.0:
                return 400, {"error": "fraction must be from 0 to 1"}
            return 200, {"ids": w.flip_labels(fraction, int(body.get("seed", 0)))}
        pid = int(body.get("post_id"))
    except (TypeError, ValueError):
        return 400, {"error": "bad or missing count/post_id"}
    if pid not in w.posts:
        return 404, {"error": f"no post {pid}"}
    with w.lock:
        if action == "override_post":
            # extra tags (merged into existing categories) and one URL for the
            # file, sample and preview: a hostile or broken answer for a test
            o = w.overrides.setdefault(pid, {})
            if isinstance(body.get("tags"), dict):
                o["tags"] = {str(c): [str(t) for t in v] for c, v in body["tags"].items()}
            if body.get("url") is not None:
                o["url"] = str(body["url"])
            return 200, {"post_id": pid, "override": o}
        if action == "user_vote":
            score = int(body.get("score", 0))
            if score == 0:
                w.user.votes.pop(pid, None)
            elif score in (1, -1):
                w.user.votes[pid] = score
            else:
                return 400, {"error": "score must be 1, -1 or 0"}
            return 200, w.user_state()
        if action == "user_favorite":
            if body.get("on", True):
                w.user.favorites.add(pid)
            else:
                w.user.favorites.discard(pid)
            return 200, w.user_state()
    return 400, {"error": f"unknown action {action!r}"}
