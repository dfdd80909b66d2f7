# SPDX-License-Identifier: MIT
"""The post search: tag queries with -negation, ~or groups, * wildcards and
the metatags Fluff uses, then ordering and paging as e621 does it."""
import datetime
import fnmatch
import re

MAX_TERMS = 40
MAX_LIMIT = 320
MAX_PAGE = 750
DEFAULT_LIMIT = 75

FAV = {"fav"}
VOTED_UP = {"votedup", "voteup", "upvote", "upvoted"}
VOTED_DOWN = {"voteddown", "votedown", "downvote", "downvoted"}
VOTED = {"voted"}
RATINGS = {"s": "s", "safe": "s", "q": "q", "questionable": "q",
           "e": "e", "explicit": "e"}


class QueryError(Exception):
    def __init__(self, status, body):
        super().__init__(body.get("message") or body.get("reason"))
        self.status = status
        self.body = body


def _num_pred(spec, get):
    """e621 ranges: N, >N, <N, >=N, <=N, A..B, A.., ..B."""
    def conv(s):
        return float(s)
    try:
        if ".." in spec:
            lo, hi = spec.split("..", 1)
            lo = conv(lo) if lo else None
            hi = conv(hi) if hi else None
            return lambda p: ((lo is None or get(p) >= lo) and
                              (hi is None or get(p) <= hi))
        for op, fn in ((">=", lambda a, b: a >= b), ("<=", lambda a, b: a <= b),
                       (">", lambda a, b: a > b), ("<", lambda a, b: a < b)):
            if spec.startswith(op):
                v = conv(spec[len(op):])
                return lambda p: fn(get(p), v)
        v = conv(spec)
        return lambda p: get(p) == v
    except ValueError:
        return lambda p: False


def _date_pred(spec):
    def day(s):
        return datetime.date.fromisoformat(s).toordinal()
    try:
        if ".." in spec:
            lo, hi = spec.split("..", 1)
            lo = day(lo) if lo else None
            hi = day(hi) if hi else None
        elif spec.startswith(">="):
            lo, hi = day(spec[2:]), None
        elif spec.startswith(">"):
            lo, hi = day(spec[1:]) + 1, None
        elif spec.startswith("<="):
            lo, hi = None, day(spec[2:])
        elif spec.startswith("<"):
            lo, hi = None, day(spec[1:]) - 1
        else:
            lo = hi = day(spec)
    except ValueError:
        return lambda p: False
    return lambda p: ((lo is None or p.created_at.date().toordinal() >= lo) and
                      (hi is None or p.created_at.date().toordinal() <= hi))


class Search:
    """One parsed query. `viewer` is the logged-in User or None."""

    def __init__(self, world, tags, viewer, e926=False):
        self.world = world
        self.viewer = viewer
        terms = tags.lower().split()
        if len(terms) > MAX_TERMS:
            raise QueryError(422, {"success": False, "code": None,
                                   "message": f"You cannot search for more than {MAX_TERMS} tags at a time"})
        self.must, self.must_not, self.any = [], [], []
        self.order = "id_desc"
        self.show_deleted = False
        for term in terms:
            neg = term.startswith("-") and len(term) > 1
            tilde = term.startswith("~") and len(term) > 1
            if neg or tilde:
                term = term[1:]
            if term.startswith("order:"):
                if not neg:
                    self.order = term[6:]
                continue
            if term.startswith("status:"):
                # As on e621ng: deleted posts are left out of every search
                # (fav: and vote lists included) unless a status: term is given.
                self.show_deleted = True
            pred = self._term(term)
            (self.must_not if neg else self.any if tilde else self.must).append(pred)
        if e926:
            self.must.append(lambda p: p.rating == "s")

    def _term(self, term):
        w = self.world
        name, _, arg = term.partition(":")
        if not arg:
            return self._tag(term)
        if name in FAV:
            u = w.find_user(arg)
            if u is not None and u.private_favorites and u is not self.viewer:
                raise QueryError(403, {"success": False,
                                       "reason": "Access Denied: This users favorites are hidden"})
            ids = frozenset(u.favorites) if u else frozenset()
            return lambda p: p.id in ids
        if name in VOTED_UP | VOTED_DOWN | VOTED:
            # Always the viewer's own votes, whatever name is given;
            # anonymous, they match nothing.
            votes = dict(self.viewer.votes) if self.viewer else {}
            want = {1} if name in VOTED_UP else {-1} if name in VOTED_DOWN else {1, -1}
            return lambda p: votes.get(p.id) in want
        if name == "rating":
            r = RATINGS.get(arg)
            return lambda p: p.rating == r
        if name == "type":
            return lambda p: p.ext == arg
        if name == "status":
            return {"deleted": lambda p: p.deleted,
                    "active": lambda p: not (p.deleted or p.pending or p.flagged),
                    "pending": lambda p: p.pending,
                    "flagged": lambda p: p.flagged,
                    "any": lambda p: True,
                    "all": lambda p: True}.get(arg, lambda p: False)
        if name == "id":
            return _num_pred(arg, lambda p: p.id)
        if name == "score":
            return _num_pred(arg, lambda p: sum(w.score_of(p)))
        if name == "favcount":
            return _num_pred(arg, w.fav_count)
        if name == "width":
            return _num_pred(arg, lambda p: p.width)
        if name == "height":
            return _num_pred(arg, lambda p: p.height)
        if name == "date":
            return _date_pred(arg)
        if name == "md5":
            return lambda p: p.md5 == arg
        return self._tag(term)

    @staticmethod
    def _tag(tag):
        if "*" in tag:
            rx = re.compile(fnmatch.translate(tag))
            return lambda p: any(rx.match(t) for t in p.all_tags)
        return lambda p: tag in p.all_tags

    def match(self, p):
        if p.deleted and not self.show_deleted:
            return False
        if not all(f(p) for f in self.must):
            return False
        if any(f(p) for f in self.must_not):
            return False
        if self.any and not any(f(p) for f in self.any):
            return False
        return True

    def _sort_key(self):
        w = self.world
        o = self.order
        if o in ("id", "id_asc"):
            return (lambda p: p.id), False
        if o in ("score", "score_desc"):
            return (lambda p: (sum(w.score_of(p)), p.id)), True
        if o == "score_asc":
            return (lambda p: (sum(w.score_of(p)), p.id)), False
        if o in ("favcount", "favcount_desc"):
            return (lambda p: (w.fav_count(p), p.id)), True
        return (lambda p: p.id), True

    def page(self, limit_s, page_s):
        """The posts of one page, or QueryError for bad paging."""
        limit = DEFAULT_LIMIT
        if limit_s not in (None, ""):
            try:
                limit = int(limit_s)
            except ValueError:
                limit = DEFAULT_LIMIT
            if limit > MAX_LIMIT:
                raise QueryError(410, {"success": False, "code": None,
                                       "reason": f"You cannot request more than {MAX_LIMIT} posts per page"})
            if limit <= 0:
                limit = DEFAULT_LIMIT
        with self.world.lock:
            posts = [p for p in self.world.posts.values() if self.match(p)]
        page_s = (page_s or "1").strip()
        m = re.fullmatch(r"([ab])(\d+)", page_s)
        if m:
            pivot = int(m.group(2))
            if m.group(1) == "b":
                sel = sorted((p for p in posts if p.id < pivot), key=lambda p: -p.id)[:limit]
            else:
                sel = sorted((p for p in posts if p.id > pivot), key=lambda p: p.id)[:limit]
                sel.reverse()
            return sel
        try:
            n = int(page_s)
        except ValueError:
            n = 1
        n = max(1, n)
        if n > MAX_PAGE:
            raise QueryError(410, {"success": False, "code": None,
                                   "reason": f"You cannot go beyond page {MAX_PAGE}. Try narrowing your search terms, or use the before/after paging (page=b<id>)."})
        key, rev = self._sort_key()
        posts.sort(key=key, reverse=rev)
        return posts[(n - 1) * limit:n * limit]
