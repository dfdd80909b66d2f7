# SPDX-License-Identifier: MIT
"""HTTP plumbing: parses a request, applies latency, faults and the site's
gatekeeping in the order the real site does (edge first, then the app), and
writes the answer."""
import json
import random
import select
import socket
import struct
import time
import traceback
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler

import api
import testctl
from images import CONTENT_TYPES
from access import ACCESS_DENIED, AUTH_FAILURE, AuthError, agent_allowed, authenticate

MAX_BODY = 1 << 20

HTML_404 = b"""<!doctype html>
<html><head><title>Not Found</title></head>
<body><h1>404 Not Found</h1><p>The page you were looking for does not exist.</p></body></html>
"""
HTML_503 = b"""<!doctype html>
<html><head><title>503 Service Temporarily Unavailable</title></head>
<body><center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center></body></html>
"""
HTML_502 = b"""<html><head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>
"""
HTML_ERROR = b"""<!DOCTYPE html>
<html lang="en-US"><head><title>e621 | 520: Web server is returning an unknown error</title></head>
<body><div id="cf-error-details"><h1>Web server is returning an unknown error</h1>
<p>Error code 520</p></div></body></html>
"""

# Hostile answers (issue 15): a captive portal's page in Latin-1, and a
# Content-Type carrying terminal escapes (an OSC window title, BEL, clear
# screen) plus a C1 CSI.
HTML_LATIN1 = ("<html><head><title>Anmeldung erforderlich \xab Caf\xe9 \xbb</title></head>"
               "<body><p>Bitte melden Sie sich an.</p></body></html>\n").encode("latin-1")
LATIN1_TYPE = "text/html; charset=iso-8859-1"
HOSTILE_TYPE = "text/html\x1b]0;owned\x07\x1b[2J\x9b31m"
HOSTILE_BODY = ("<html><head><title>evil\x1b[2J\x07 title\u009b31m</title></head>"
                "<body>x</body></html>\n").encode("utf-8")

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class BadBody(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


class Request:
    def __init__(self, method, path, query, form, viewer=None):
        self.method = method
        self.path = path
        self.query = query
        self.form = form
        self.viewer = viewer

    def param(self, name, default=None):
        for src in (self.query, self.form):
            if name in src:
                v = src[name]
                return v[0] if isinstance(v, list) else v
        return default


def _patch_huge(data, ext):
    """Keeps the file valid up to its header but declares 60000×60000."""
    if ext == "jpg":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            seglen = struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                return data[:i + 5] + struct.pack(">HH", 60000, 60000) + data[i + 9:]
            i += 2 + seglen
        return data
    if ext == "png":
        ihdr = bytearray(data[12:29])
        ihdr[4:12] = struct.pack(">II", 60000, 60000)
        crc = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
        return data[:12] + bytes(ihdr) + crc + data[33:]
    if ext == "gif":
        return data[:6] + struct.pack("<HH", 60000, 60000) + data[10:]
    return data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "nginx"

    # ---- plumbing ------------------------------------------------------
    def log_message(self, fmt, *args):
        self.server.site.log("%s %s" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _read_body(self):
        """(parsed JSON or None, form dict); BadBody when it cannot be read."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = self._read_chunked()
        else:
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadBody(400)
            if n < 0:
                raise BadBody(400)
            if n > MAX_BODY:
                raise BadBody(413)
            raw = self.rfile.read(n) if n > 0 else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                obj = json.loads(raw or b"null")
            except ValueError:
                obj = None
            return obj, obj if isinstance(obj, dict) else {}
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return None, form

    def _read_chunked(self):
        raw = b""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadBody(400)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return raw
            if len(raw) + size > MAX_BODY:
                raise BadBody(413)
            raw += self.rfile.read(size)
            self.rfile.readline(1024)

    def _send(self, status, body, ctype, headers=None, fault=None, count=True):
        body = body or b""
        if fault is not None:
            if fault.mode == "malformed_json" and ctype.startswith("application/json"):
                body = body[:max(1, len(body) // 2)] + b'",{'
            elif fault.mode == "wrong_content_type":
                ctype = HTML_TYPE
            elif fault.mode == "hostile_content_type":
                ctype, body = HOSTILE_TYPE, HOSTILE_BODY
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)) if status != 204 else "0")
        if self.close_connection:
            self.send_header("Connection", "close")
        # Counted before the body goes out: a client reading stats right
        # after its answer must see it.
        if count:
            self.server.site.stats.status(status)
        self.end_headers()
        if status == 204:
            return
        if fault is not None and fault.mode == "slow" and fault.bytes_per_s:
            # A stalling transfer: headers at once, then the body in a trickle.
            step = max(1, fault.bytes_per_s // 10)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                time.sleep(0.1)
        else:
            self.wfile.write(body)

    def _json(self, status, obj, headers=None, fault=None, count=True):
        body = b"" if obj is None else json.dumps(obj).encode()
        self._send(status, body, JSON_TYPE, headers, fault, count)

    def _html(self, status, body, headers=None):
        self._send(status, body, HTML_TYPE, headers)

    def _hold(self, seconds):
        """Holds the connection unanswered until the client gives up, the
        time runs out or the server stops."""
        site = self.server.site
        end = time.monotonic() + seconds
        while time.monotonic() < end and not site.stopping.is_set():
            r, _, _ = select.select([self.connection], [], [], 0.1)
            if r:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        break
                except OSError:
                    break
        self.close_connection = True

    def _reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        self.close_connection = True

    # ---- dispatch ------------------------------------------------------
    def _dispatch(self, method):
        try:
            self._dispatch_unsafe(method)
        except BadBody as e:
            self.close_connection = True
            self._html(e.status, b"<html><body><h1>Bad request body</h1></body></html>\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            # A bug in the fake site must be loud, never a silent hang-up.
            self.server.site.log(traceback.format_exc(), always=True)
            self.close_connection = True
            try:
                self._json(500, {"success": False, "message": "fake site bug, see its stderr",
                                 "code": None})
            except OSError:
                pass

    def _dispatch_unsafe(self, method):
        site = self.server.site
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw_body, form = self._read_body()
        if path.startswith("/_test/"):
            res = testctl.handle(site, method, path, raw_body)
            if res is None:
                self._send(404, HTML_404, HTML_TYPE, count=False)
            else:
                self._json(*res, count=False)
            return

        site.stats.begin()
        try:
            self._answer(site, method, path, query, form)
        finally:
            site.stats.end()

    def _answer(self, site, method, path, query, form):
        is_image = path.startswith("/data/")
        ua = self.headers.get("User-Agent", "")
        key = site.world.user.api_key
        carried = ("api_key" in query or "login" in query or
                   (key and key in self.path))
        if is_image:
            m = site.images.parse(path)
            endpoint = f"{method} /data/{m[0] if m else 'unknown'}"
        else:
            endpoint = f"{method} {api.route(method, path)[2]}"
        site.stats.request(endpoint, ua, not is_image,
                           f"{method} {path}" if carried else None)

        if site.latency_ms:
            time.sleep(site.latency_ms / 1000)
        fault = site.faults.take(method, path, is_image)
        if fault is not None and self._fault_answer(fault):
            return
        if is_image:
            self._image(method, path, fault)
        else:
            self._api(method, path, query, form, ua, fault)

    def _fault_answer(self, fault):
        """Answers the request for faults that replace the answer; True when
        done, False when the normal answer follows (maybe altered)."""
        mode = fault.mode
        if mode == "slow":
            if not fault.bytes_per_s:
                time.sleep(fault.delay_ms / 1000)
            return False
        if mode == "timeout":
            self._hold(fault.delay_ms / 1000)
            return True
        if mode == "reset":
            self._reset()
            return True
        if mode == "500":
            self._json(500, {"success": False, "message": "An unexpected error occurred.",
                             "code": "%032x" % random.getrandbits(128)})
            return True
        if mode == "502":
            self._html(502, HTML_502)
            return True
        if mode == "503":
            self._html(503, HTML_503, {"Retry-After": str(fault.retry_after)})
            return True
        if mode == "429":
            self._json(429, api.THROTTLED, {"Retry-After": str(fault.retry_after)})
            return True
        if mode == "status":
            self._json(int(fault.status or 400), {"success": False, "code": None,
                                                  "message": fault.message or "Injected error"},
                       {"Retry-After": str(fault.retry_after)} if fault.status in (423, 429) else None)
            return True
        if mode == "html_error":
            self._html(int(fault.status or 520), HTML_ERROR)
            return True
        if mode == "latin1_error":
            self._send(int(fault.status or 502), HTML_LATIN1, LATIN1_TYPE)
            return True
        return False

    def _image(self, method, path, fault):
        site = self.server.site
        parsed = site.images.parse(path) if method == "GET" else None
        if parsed is None:
            self._html(404, HTML_404)
            return
        kind, post, ext = parsed
        data = site.images.get(kind, post)
        ctype = CONTENT_TYPES[ext]
        if fault is not None:
            if fault.mode == "truncated_image":
                data = data[:max(64, len(data) * 6 // 10)]
            elif fault.mode == "corrupt_image":
                rng = random.Random(post.id)
                data = data[:16] + rng.randbytes(len(data) - 16)
            elif fault.mode == "huge_image":
                data = _patch_huge(data, ext)
            elif fault.mode == "wrong_content_type":
                ctype = HTML_TYPE
        else:
            site.stats.image(site.base_url + path)
        self._send(200, data, ctype, {"Cache-Control": "public, max-age=31536000"}, fault)

    def _api(self, method, path, query, form, ua, fault):
        site = self.server.site
        if not agent_allowed(ua):
            self._json(403, {"success": False,
                             "reason": "A descriptive User-Agent is required (name, version and contact)."},
                       fault=fault)
            return
        if not site.rate_limit.allow():
            self._html(503, HTML_503)
            return
        fn, args, _ = api.route(method, path)
        if fn is None:
            self._html(404, HTML_404)
            return
        try:
            viewer = authenticate(site.world, self.headers.get("Authorization"), query)
        except AuthError:
            self._json(401, AUTH_FAILURE, fault=fault)
            return
        if viewer is not None and site.banned:
            self._json(401, {"success": False, "code": None,
                             "message": "Account is banned: ban reason: testing bans"}, fault=fault)
            return
        if viewer is None and method != "GET":
            self._json(403, ACCESS_DENIED, fault=fault)
            return
        req = Request(method, path, query, form, viewer)
        status, body, headers = fn(site, req, *args)
        self._json(status, body, headers, fault)
