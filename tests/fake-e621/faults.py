# SPDX-License-Identifier: MIT
"""Faults that tests switch on: each matches a path regex and fires a number
of times (or until cleared)."""
import re
import threading

MODES = {"slow", "timeout", "500", "502", "503", "429", "malformed_json",
         "html_error", "status", "truncated_image", "corrupt_image", "huge_image",
         "wrong_content_type", "reset", "latin1_error", "hostile_content_type"}
IMAGE_MODES = {"truncated_image", "corrupt_image", "huge_image"}
# Modes that change the body of an otherwise normal answer.
CONTENT_MODES = {"malformed_json", "wrong_content_type", "hostile_content_type"} | IMAGE_MODES


class FaultError(ValueError):
    pass


class Fault:
    def __init__(self, spec):
        self.mode = str(spec.get("mode", ""))
        if self.mode not in MODES:
            raise FaultError(f"unknown mode {self.mode!r}; modes: {', '.join(sorted(MODES))}")
        count = spec.get("count")
        self.count = None if count is None else int(count)
        self.skip = int(spec.get("skip", 0))
        path = spec.get("path")
        try:
            self.path = re.compile(path) if path else None
        except re.error as e:
            raise FaultError(f"bad path regex: {e}")
        self.method = spec.get("method")
        self.delay_ms = int(spec.get("delay_ms", 60000 if self.mode == "timeout" else 2000))
        self.retry_after = spec.get("retry_after", 1)
        self.status = None if spec.get("status") is None else int(spec["status"])
        self.message = spec.get("message")
        self.bytes_per_s = int(spec.get("bytes_per_s", 0))
        self.fired = 0

    def matches(self, method, path, is_image):
        if self.method and self.method.upper() != method:
            return False
        if self.path is not None:
            return bool(self.path.search(path))
        return is_image if self.mode in IMAGE_MODES else not is_image

    def describe(self):
        return {"mode": self.mode, "count": self.count, "skip": self.skip,
                "path": self.path.pattern if self.path else None,
                "fired": self.fired}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.active = []

    def add(self, spec):
        f = Fault(spec)
        with self.lock:
            self.active.append(f)
        return f

    def clear(self):
        with self.lock:
            self.active = []

    def take(self, method, path, is_image):
        """The first armed fault for this request, consuming one use."""
        with self.lock:
            for f in self.active:
                if not f.matches(method, path, is_image):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                if f.count is not None:
                    if f.count <= 0:
                        continue
                    f.count -= 1
                f.fired += 1
                return f
        return None

    def describe(self):
        with self.lock:
            return [f.describe() for f in self.active]
