# SPDX-License-Identifier: MIT
"""Image files: rendered on first request (or ahead of time by a background
pool), encoded with libvips (encode.py), cached under the data dir.
Concurrent requests for the same file wait for one render."""
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from encode import backend, encode, pad_to
from render import render_hard_rgb, render_rgb

PATH_RE = re.compile(r"^/data/(?:(sample|preview)/)?([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{32})\.([a-z0-9]+)$")

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                 "webm": "video/webm", "swf": "application/x-shockwave-flash"}


def image_path(kind, post):
    md5 = post.md5
    if kind == "original":
        return f"/data/{md5[:2]}/{md5[2:4]}/{md5}.{post.ext}"
    return f"/data/{kind}/{md5[:2]}/{md5[2:4]}/{md5}.jpg"


class ImageStore:
    def __init__(self, world, data_dir, log):
        self.world = world
        self.dir = data_dir
        self.log = log
        self.lock = threading.Lock()
        self.pending = {}        # cache path -> Event while rendering
        self.pool = None
        self.warm_total = self.warm_done = 0
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)

    def parse(self, path):
        """(kind, post, ext) for an image path, or None."""
        m = PATH_RE.match(path)
        if not m:
            return None
        kind, a, b, md5, ext = m.groups()
        kind = kind or "original"
        post = self.world.by_md5.get(md5)
        if post is None or md5[:2] != a or md5[2:4] != b:
            return None
        if kind == "sample" and not post.has_sample:
            return None
        want = post.ext if kind == "original" else "jpg"
        if ext != want:
            return None
        return kind, post, ext

    def size_for(self, kind, post):
        if kind == "sample":
            return post.sample_size()
        if kind == "preview":
            return post.preview_size()
        return post.width, post.height

    def get(self, kind, post):
        """Bytes of the file, rendering it first if needed."""
        ext = "jpg" if kind != "original" else post.ext
        dest = os.path.join(self.dir, kind, post.md5[:2], f"{post.md5}.{ext}")
        while True:
            try:
                with open(dest, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                pass
            with self.lock:
                ev = self.pending.get(dest)
                mine = ev is None
                if mine:
                    ev = self.pending[dest] = threading.Event()
            if not mine:
                ev.wait()
                continue
            try:
                self._make(kind, post, ext, dest)
            finally:
                with self.lock:
                    del self.pending[dest]
                ev.set()

    def _make(self, kind, post, ext, dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if ext in ("webm", "swf"):
            data = self._container(post, ext)
        else:
            w, h = self.size_for(kind, post)
            if getattr(self.world, "kind", "bullseye") == "hard":
                rgb = render_hard_rgb(post.scene_seed, post.obj, w, h)
            else:
                rgb = render_rgb(post.scene_seed, post.has_object, w, h)
            data = encode(rgb, w, h, ext, os.path.join(self.dir, "tmp"))
            if kind == "original":
                padded = pad_to(data, ext, post.size)
                if len(padded) != post.size:
                    self.log(f"original of post {post.id} is {len(data)} bytes, "
                             f"not the declared {post.size}", always=True)
                data = padded
        tmp = os.path.join(self.dir, "tmp", f"{kind}-{post.md5}-{threading.get_ident()}")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)

    @staticmethod
    def _container(post, ext):
        """Not a playable video or movie, but the right magic and size."""
        magic = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm" if ext == "webm" else b"FWS\x0a"
        body = bytes((i * 131 + post.id) & 0xFF for i in range(4096))
        data = magic + body * (post.size // len(body) + 1)
        return data[:post.size]

    def warm(self, posts, workers=2):
        """Renders ahead of requests, in the background, what a sync fetches:
        the sample, or the original when there is no sample."""
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="warm")
        jobs = [("sample" if p.has_sample else "original", p) for p in posts
                if not p.deleted and p.ext in ("jpg", "png", "gif", "webm")]
        jobs = [(k, p) for k, p in jobs if not (k == "original" and p.ext == "webm")]
        with self.lock:
            self.warm_total += len(jobs)
        for kind, p in jobs:
            self.pool.submit(self._warm_one, kind, p)

    def _warm_one(self, kind, post):
        try:
            self.get(kind, post)
        except Exception as e:   # a warm-up failure is retried on request
            self.log(f"warm-up of {post.id} failed: {e}", always=True)
        with self.lock:
            self.warm_done += 1

    def status(self):
        with self.lock:
            return {"backend": backend(), "dir": self.dir,
                    "warm_total": self.warm_total, "warm_done": self.warm_done}

    def shutdown(self):
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
