# SPDX-License-Identifier: MIT
"""Image files: rendered on first request (or ahead of time by a background
pool), encoded by the `vips` command-line tool, cached under the data dir.
Concurrent requests for the same file wait for one render."""
import os
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

from render import render_ppm

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
        tmp = os.path.join(self.dir, "tmp", f"{kind}-{post.md5}-{threading.get_ident()}")
        if ext in ("webm", "swf"):
            data = self._container(post, ext)
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
            return
        w, h = self.size_for(kind, post)
        ppm = tmp + ".ppm"
        out = tmp + "." + ext
        with open(ppm, "wb") as f:
            f.write(render_ppm(post.scene_seed, post.has_object, w, h))
        opts = {"jpg": "[Q=85,strip]", "png": "[compression=1,strip]", "gif": ""}[ext]
        try:
            subprocess.run(["vips", "copy", ppm, out + opts], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except subprocess.CalledProcessError as e:
            self.log(f"vips failed for {dest}: {e.stderr.decode(errors='replace')}")
            raise
        finally:
            os.unlink(ppm)
        os.replace(out, dest)

    @staticmethod
    def _container(post, ext):
        """Not a playable video or movie, but the right magic and size."""
        magic = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm" if ext == "webm" else b"FWS\x0a"
        body = bytes((i * 131 + post.id) & 0xFF for i in range(4096))
        data = magic + body * (post.size // len(body) + 1)
        return data[:post.size]

    def warm(self, posts, workers=2):
        """Renders samples ahead of requests in the background."""
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="warm")
        for p in posts:
            kind = "sample" if p.ext != "swf" else None
            if kind and not (p.ext == "gif"):
                self.pool.submit(self._warm_one, kind, p)
            elif p.ext == "gif":
                self.pool.submit(self._warm_one, "original", p)

    def _warm_one(self, kind, post):
        try:
            self.get(kind, post)
        except Exception as e:   # a warm-up failure is retried on request
            self.log(f"warm-up of {post.id} failed: {e}")

    def shutdown(self):
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
