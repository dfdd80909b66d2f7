# SPDX-License-Identifier: MIT
"""RGB pixels to JPEG, PNG or GIF with libvips. In-process through ctypes
(milliseconds, and the GIL is released while libvips works) when libvips
can be loaded, else through the `vips` command-line tool (tens of ms, mostly
process start). Also pads a file to an exact size, so an original's length
is the `file.size` its post declares."""
import ctypes
import ctypes.util
import os
import struct
import subprocess
import tempfile
import threading
import zlib

SUFFIX = {"jpg": ".jpg[Q=85,strip]", "png": ".png[compression=1,strip]", "gif": ".gif"}


class _Lib:
    def __init__(self):
        vips = ctypes.CDLL(ctypes.util.find_library("vips") or "libvips.so.42")
        gobj = ctypes.CDLL(ctypes.util.find_library("gobject-2.0") or "libgobject-2.0.so.0")
        glib = ctypes.CDLL(ctypes.util.find_library("glib-2.0") or "libglib-2.0.so.0")
        if vips.vips_init(b"fake-e621") != 0:
            raise OSError("vips_init failed")
        # Images here wrap Python memory: nothing may keep them in a cache.
        vips.vips_cache_set_max(0)
        vips.vips_image_new_from_memory.restype = ctypes.c_void_p
        vips.vips_image_new_from_memory.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                                    ctypes.c_int, ctypes.c_int, ctypes.c_int]
        vips.vips_image_write_to_buffer.restype = ctypes.c_int
        vips.vips_error_buffer.restype = ctypes.c_char_p
        gobj.g_object_unref.argtypes = [ctypes.c_void_p]
        glib.g_free.argtypes = [ctypes.c_void_p]
        self.vips, self.gobj, self.glib = vips, gobj, glib

    def encode(self, pixels, w, h, ext):
        buf = ctypes.create_string_buffer(pixels, len(pixels))
        img = self.vips.vips_image_new_from_memory(buf, len(pixels), w, h, 3, 0)
        if not img:
            raise RuntimeError(self._error())
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        try:
            r = self.vips.vips_image_write_to_buffer(ctypes.c_void_p(img), SUFFIX[ext].encode(),
                                                     ctypes.byref(out), ctypes.byref(n), None)
        finally:
            self.gobj.g_object_unref(img)
        if r != 0:
            raise RuntimeError(self._error())
        try:
            return ctypes.string_at(out, n.value)
        finally:
            self.glib.g_free(out)

    def _error(self):
        msg = self.vips.vips_error_buffer().decode(errors="replace")
        self.vips.vips_error_clear()
        return msg


_lib = None
_lib_lock = threading.Lock()
_lib_failed = False


def _library():
    global _lib, _lib_failed
    with _lib_lock:
        if _lib is None and not _lib_failed and os.environ.get("FAKE_E621_ENCODER") != "cli":
            try:
                _lib = _Lib()
            except (OSError, AttributeError):
                _lib_failed = True
        return _lib


def backend():
    return "libvips" if _library() else "vips-cli"


def encode_cli(pixels, w, h, ext, tmpdir):
    with tempfile.NamedTemporaryFile(dir=tmpdir, suffix=".ppm", delete=False) as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(pixels)
        ppm = f.name
    out = ppm[:-4] + "." + ext
    try:
        subprocess.run(["vips", "copy", ppm, out + SUFFIX[ext][len(ext) + 1:]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with open(out, "rb") as f:
            return f.read()
    except subprocess.CalledProcessError as e:
        raise RuntimeError(e.stderr.decode(errors="replace")) from None
    finally:
        os.unlink(ppm)
        if os.path.exists(out):
            os.unlink(out)


def encode(pixels, w, h, ext, tmpdir):
    lib = _library()
    if lib is not None:
        return lib.encode(pixels, w, h, ext)
    return encode_cli(pixels, w, h, ext, tmpdir)


def _split(total, count, lo, hi):
    """`count` parts in [lo, hi] summing to `total` (the caller makes it possible)."""
    base, rem = divmod(total, count)
    parts = [base + 1] * rem + [base] * (count - rem)
    assert all(lo <= p <= hi for p in parts)
    return parts


def pad_to(data, ext, size):
    """`data` grown to exactly `size` bytes with comments the decoders skip;
    unchanged when that cannot be done (already as large, or too close)."""
    n = size - len(data)
    if ext == "jpg" and n >= 4 and data[:2] == b"\xff\xd8":
        m = -(-n // 65537)
        segs = b"".join(b"\xff\xfe" + struct.pack(">H", k + 2) + b"\x00" * k
                        for k in _split(n - 4 * m, m, 0, 65533))
        at = 2
        if data[2:4] == b"\xff\xe0":          # keep JFIF's APP0 first
            at = 4 + struct.unpack(">H", data[4:6])[0]
        return data[:at] + segs + data[at:]
    if ext == "png" and n >= 20 and data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND":
        body = b"tEXt" + b"Comment\x00" + b" " * (n - 20)
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        return data[:-12] + chunk + data[-12:]
    if ext == "gif" and n >= 5 and data[-1:] == b"\x3b":
        budget = n - 3
        m = -(-budget // 256)
        blocks = b"".join(bytes((k,)) + b"\x00" * k for k in _split(budget - m, m, 1, 255))
        return data[:-1] + b"\x21\xfe" + blocks + b"\x00" + data[-1:]
    return data
