# SPDX-License-Identifier: MIT
"""The site's JSON endpoints. Each handler takes (site, req) and returns
(status, json-able body or None, extra headers); auth, rate limits and faults
are already dealt with by the caller, except the per-action rules here."""
import re

from access import ACCESS_DENIED
from query import QueryError, Search
from serialize import post_json, user_json

NOT_FOUND = {"success": False, "reason": "not found"}
THROTTLED = {"success": False, "reason": "Throttled: Too many requests"}


def _truthy(v):
    return str(v).strip().lower() in ("1", "true", "yes", "t", "on")


def posts_index(site, req):
    try:
        search = Search(site.world, req.param("tags", ""), req.viewer, site.e926)
        posts = search.page(req.param("limit"), req.param("page"))
    except QueryError as e:
        return e.status, e.body, {}
    with site.world.lock:
        return 200, {"posts": [post_json(site, p, req.viewer) for p in posts]}, {}


def post_show(site, req, post_id):
    p = site.world.posts.get(int(post_id))
    if p is None:
        return 404, NOT_FOUND, {}
    with site.world.lock:
        return 200, {"post": post_json(site, p, req.viewer)}, {}


def user_show(site, req, name):
    u = site.world.find_user(name)
    if u is None:
        return 404, NOT_FOUND, {}
    with site.world.lock:
        return 200, user_json(site, u, req.viewer), {}


def user_update(site, req, name):
    """Counts against the write throttle like any ordinary logged-in write."""
    if req.viewer is None:
        return 403, ACCESS_DENIED, {}
    u = site.world.find_user(name)
    if u is None:
        return 404, NOT_FOUND, {}
    if u is not req.viewer:
        return 403, ACCESS_DENIED, {}
    if not site.write_throttle.allow():
        return 429, THROTTLED, {"Retry-After": str(site.write_throttle.retry_after())}
    bl = req.param("user[blacklisted_tags]")
    if bl is None:
        bl = req.param("blacklisted_tags")
    if bl is not None:
        with site.world.lock:
            u.blacklist = bl
    return 204, None, {}


def vote(site, req, post_id):
    if req.viewer is None:
        return 403, ACCESS_DENIED, {}
    p = site.world.posts.get(int(post_id))
    if p is None:
        return 404, NOT_FOUND, {}
    u = req.viewer
    if req.method == "DELETE":
        site.stats.vote(p.id, 0, False, "DELETE")
        with site.world.lock:
            u.votes.pop(p.id, None)
        return 204, None, {}
    raw = req.param("score", "")
    no_unvote = _truthy(req.param("no_unvote", "false"))
    try:
        score = int(raw)
    except ValueError:
        score = 0
    site.stats.vote(p.id, score, no_unvote)
    if score not in (1, -1):
        return 422, {"success": False, "message": "Invalid vote", "code": None}, {}
    if not site.vote_cap.allow():
        return 422, {"success": False, "code": None,
                     "message": "You have reached the hourly limit for this action"}, {}
    with site.world.lock:
        existing = u.votes.get(p.id)
        if existing == score:
            our = 0
            if not no_unvote:
                del u.votes[p.id]
        else:
            u.votes[p.id] = score
            our = score
        up, down = site.world.score_of(p)
    return 200, {"score": up + down, "up": up, "down": down, "our_score": our}, {}


def favorite_add(site, req):
    if req.viewer is None:
        return 403, ACCESS_DENIED, {}
    raw = req.param("post_id", "")
    if not re.fullmatch(r"\d+", str(raw).strip()):
        return 404, NOT_FOUND, {}
    p = site.world.posts.get(int(raw))
    site.stats.favorite(int(raw), "add")
    if p is None:
        return 404, NOT_FOUND, {}
    with site.world.lock:
        if p.id in req.viewer.favorites:
            return 422, {"success": False, "code": None,
                         "message": "You have already favorited this post"}, {}
        req.viewer.favorites.add(p.id)
        return 200, {"post_id": p.id, "favorite_count": site.world.fav_count(p)}, {}


def favorite_remove(site, req, post_id):
    if req.viewer is None:
        return 403, ACCESS_DENIED, {}
    p = site.world.posts.get(int(post_id))
    site.stats.favorite(int(post_id), "remove")
    if p is None:
        return 404, NOT_FOUND, {}
    with site.world.lock:
        req.viewer.favorites.discard(p.id)
    return 204, None, {}


# (method, path regex, handler, endpoint name for stats)
ROUTES = [
    ("GET", r"/posts\.json", posts_index, "/posts.json"),
    ("GET", r"/posts/(\d+)\.json", post_show, "/posts/<id>.json"),
    ("GET", r"/users/([^/]+)\.json", user_show, "/users/<name>.json"),
    ("PUT", r"/users/([^/]+)\.json", user_update, "/users/<name>.json"),
    ("PATCH", r"/users/([^/]+)\.json", user_update, "/users/<name>.json"),
    ("POST", r"/posts/(\d+)/votes\.json", vote, "/posts/<id>/votes.json"),
    ("DELETE", r"/posts/(\d+)/votes\.json", vote, "/posts/<id>/votes.json"),
    ("POST", r"/favorites\.json", favorite_add, "/favorites.json"),
    ("DELETE", r"/favorites/(\d+)\.json", favorite_remove, "/favorites/<id>.json"),
]
ROUTES = [(m, re.compile(rx), fn, name) for m, rx, fn, name in ROUTES]


def route(method, path):
    """(handler, args, endpoint name) or (None, (), name) for no route."""
    for m, rx, fn, name in ROUTES:
        if m == method:
            mt = rx.fullmatch(path)
            if mt:
                return fn, mt.groups(), name
    return None, (), "unrouted"

