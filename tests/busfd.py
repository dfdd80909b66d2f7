# SPDX-License-Identifier: MIT
"""Calls a Manager method that takes one file descriptor (D-Bus type h), as
fluffctl does, with a descriptor this process opened. busctl (252) cannot
pass a descriptor, and the tests use no D-Bus module for Python, so this goes
through libsystemd with ctypes:

    r = call_fd("ImportBackboneFd", fd)   # (0, "/…/job/7") or (-errno, "error name: message")
"""
import ctypes
import ctypes.util

_lib = ctypes.CDLL(ctypes.util.find_library("systemd") or "libsystemd.so.0", use_errno=True)


class _BusError(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("message", ctypes.c_char_p), ("_need_free", ctypes.c_int)]


_lib.sd_bus_open_user.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
_lib.sd_bus_flush_close_unref.argtypes = [ctypes.c_void_p]
_lib.sd_bus_flush_close_unref.restype = ctypes.c_void_p
_lib.sd_bus_message_unref.argtypes = [ctypes.c_void_p]
_lib.sd_bus_message_unref.restype = ctypes.c_void_p
_lib.sd_bus_error_free.argtypes = [ctypes.POINTER(_BusError)]


def call_fd(method, fd, out_sig="o"):
    """Calls io.github.fluffml.Fluff1.Manager.method(h fd) on the session bus
    (DBUS_SESSION_BUS_ADDRESS: the test's private bus). Returns (0, value of
    the one reply argument, a string or an object path) or (r < 0, "name:
    message")."""
    bus = ctypes.c_void_p()
    r = _lib.sd_bus_open_user(ctypes.byref(bus))
    if r < 0:
        raise OSError(-r, "cannot connect to the session bus")
    err = _BusError()
    reply = ctypes.c_void_p()
    try:
        r = _lib.sd_bus_call_method(bus, b"io.github.fluffml.Fluff1", b"/io/github/fluffml/Fluff1",
                                    b"io.github.fluffml.Fluff1.Manager", method.encode(), ctypes.byref(err),
                                    ctypes.byref(reply), b"h", ctypes.c_int(fd))
        if r < 0:
            name = (err.name or b"").decode()
            message = (err.message or b"").decode("utf-8", "replace")
            return r, f"{name}: {message}"
        value = ctypes.c_char_p()
        r = _lib.sd_bus_message_read(reply, out_sig.encode(), ctypes.byref(value))
        if r < 0:
            raise OSError(-r, "cannot read the reply")
        return 0, value.value.decode()
    finally:
        _lib.sd_bus_message_unref(reply)
        _lib.sd_bus_error_free(ctypes.byref(err))
        _lib.sd_bus_flush_close_unref(bus)
