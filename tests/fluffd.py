# SPDX-License-Identifier: MIT
"""Start, stop and kill fluffd inside a test session (tests/with-session.sh)
and run fluffctl against it.

    from fluffd import Fluffd
    with Fluffd(site=site.url, config={"rate_limit": 2}) as d:
        d.ctl("status", "--json").json()
        d.stop()        # SIGTERM, returns the exit status

fluffd's readiness is taken from its sd_notify READY=1 on a private
NOTIFY_SOCKET, so tests never sleep-and-hope. Its stderr goes to a file kept
for the test to grep (d.log()).
"""
import json
import os
import signal
import sys
import socket
import subprocess
import tempfile
import time

BUILD = os.environ.get("FLUFF_BUILD_DIR", "build")
FLUFFD = os.path.join(BUILD, "daemon", "fluffd")
FLUFFCTL = os.path.join(BUILD, "client", "fluffctl")


def xdg(kind):
    return os.environ[f"XDG_{kind}_HOME"]


def data_dir():
    return os.path.join(xdg("DATA"), "fluff")


def config_dir():
    return os.path.join(xdg("CONFIG"), "fluff")


def write_config(values):
    os.makedirs(config_dir(), exist_ok=True)
    with open(os.path.join(config_dir(), "config"), "w") as f:
        f.write("# written by tests/fluffd.py\n")
        for k, v in values.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            f.write(f"{k} = {v}\n")


class Result:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return f"<rc={self.returncode} out={self.stdout!r} err={self.stderr!r}>"


class Fluffd:
    def __init__(self, site=None, config=None, env=None, args=()):
        self.site = site
        self.config = config
        self.extra_env = env or {}
        self.args = list(args)
        self.proc = None
        self.logs = []
        self._log_file = None

    # ---- life cycle ----
    def env(self):
        env = dict(os.environ)
        # fluffd asks the Vulkan loader for the device name once (fluffctl
        # status); lavapipe leaks 128 bytes per instance from a module it has
        # unloaded, which LeakSanitizer cannot be told to ignore by name.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        if self.site:
            env["FLUFF_SITE"] = self.site
        env.update(self.extra_env)
        return env

    def start(self, timeout=20):
        assert self.proc is None, "fluffd already running"
        if self.config is not None:
            write_config(self.config)
        notify_dir = tempfile.mkdtemp(prefix="fluff-notify-")
        notify_path = os.path.join(notify_dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(notify_path)
        sock.settimeout(0.2)
        env = self.env()
        env["NOTIFY_SOCKET"] = notify_path
        self._log_file = tempfile.NamedTemporaryFile(prefix="fluffd-", suffix=".log", delete=False)
        self.logs.append(self._log_file.name)
        self.proc = subprocess.Popen([FLUFFD] + self.args, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"fluffd exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    msg = sock.recv(4096).decode()
                except socket.timeout:
                    continue
                if "READY=1" in msg.split("\n"):
                    return self
            raise RuntimeError(f"fluffd did not become ready in {timeout}s:\n{self.log()}")
        finally:
            sock.close()
            os.unlink(notify_path)
            os.rmdir(notify_dir)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        died = self.proc.poll()
        if died is not None:
            # Nobody asked it to stop: a crash must fail the test, with its signal.
            self.proc = None
            how = f"signal {signal.Signals(-died).name}" if died < 0 else f"status {died}"
            raise RuntimeError(f"fluffd died on its own ({how}):\n{self.log()[-4000:]}")
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"fluffd ignored SIGTERM for {timeout}s:\n{self.log()}")
        self.proc = None
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """A sanitizer build reports to stderr; any report fails the test."""
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError(f"fluffd: sanitizer report:\n{log[-6000:]}")

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self):
        rc = self.stop()
        self.start()
        return rc

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def log(self):
        """Everything every fluffd of this object wrote to stderr."""
        out = []
        for path in self.logs:
            with open(path, errors="replace") as f:
                out.append(f.read())
        return "".join(out)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc is not None:
            try:
                self.stop()
            except RuntimeError as e:
                if exc[0] is None:
                    raise
                # the test already failed; keep its error, but show this too
                print(e, file=sys.stderr)
        else:
            self.check_sanitizers()
        for path in self.logs:
            try:
                os.unlink(path)
            except OSError:
                pass

    # ---- fluffctl ----
    def ctl(self, *args, input=None, timeout=600, check=False):
        proc = subprocess.run([FLUFFCTL] + list(args), input=input, capture_output=True, text=True,
                              timeout=timeout, env=self.env())
        res = Result(proc)
        if check and proc.returncode != 0:
            raise AssertionError(f"fluffctl {' '.join(args)} failed: {res!r}\nfluffd log:\n{self.log()[-4000:]}")
        return res

    def status(self):
        return self.ctl("status", "--json", check=True).json()

    def login(self, user, key, remember=False):
        args = ["login", user] + (["--remember"] if remember else [])
        return self.ctl(*args, input=key + "\n")


def ctl(*args, input=None, timeout=60):
    """fluffctl without a daemon object (e.g. when none runs)."""
    proc = subprocess.run([FLUFFCTL] + list(args), input=input, capture_output=True, text=True, timeout=timeout)
    return Result(proc)


# ---- checks shared by the integration tests ----

def db_path():
    return os.path.join(data_dir(), "fluff.db")


def db_query(sql, args=()):
    """Rows from fluff.db, opened read-only so a running fluffd is undisturbed."""
    import sqlite3
    con = sqlite3.connect(f"file:{db_path()}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def db_integrity():
    return db_query("PRAGMA integrity_check")[0][0]


def label_sets():
    """{source: set(post ids)} as stored."""
    out = {"favourite": set(), "upvote": set(), "downvote": set(), "app": set()}
    for pid, source in db_query("SELECT post_id, source FROM labels"):
        out[source].add(pid)
    return out


def jpeg_size(path):
    """(width, height) from a baseline or progressive JPEG's SOF marker, or
    None when the file is not a JPEG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return (w, h)
        i += 2 + length
    return None


def files_containing(root, needle):
    """Every file under root whose bytes contain needle."""
    hits = []
    raw = needle.encode()
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            try:
                with open(p, "rb") as f:
                    if raw in f.read():
                        hits.append(p)
            except OSError:
                pass
    return hits


def bus_properties_dump():
    """Every property of every fluffd object, as busctl prints it."""
    tree = subprocess.run(["busctl", "--user", "--list", "tree", "io.github.fluffml.Fluff1"],
                          capture_output=True, text=True, timeout=30).stdout.split()
    out = []
    for path in tree:
        if not path.startswith("/"):
            continue
        r = subprocess.run(["busctl", "--user", "introspect", "io.github.fluffml.Fluff1", path],
                           capture_output=True, text=True, timeout=30)
        out.append(r.stdout)
    return "\n".join(out)


def fresh_state():
    """Removes fluffd's data and config folders (between tests of one session)."""
    import shutil
    for d in (data_dir(), config_dir(), os.path.join(xdg("CACHE"), "fluff")):
        shutil.rmtree(d, ignore_errors=True)


def site_cache_dir(seed):
    """A folder that keeps the fake site's generated JPEGs across test runs."""
    base = os.environ.get("FLUFF_BUILD_DIR", tempfile.gettempdir())
    path = os.path.join(base, "fake-site-cache", f"seed-{seed}")
    os.makedirs(path, exist_ok=True)
    return path


class SignalRecorder:
    """Records the signals fluffd sends (dbus-monitor --profile) while active:
        with SignalRecorder() as rec: ...
        rec.times("PropertiesChanged", path_prefix="/io/github/fluffml/Fluff1/job/")"""

    def __enter__(self):
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(["dbus-monitor", "--session", "--profile", "type='signal'"],
                                     stdout=self.out, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # the monitor must be in place before the work starts
        return self

    def __exit__(self, *exc):
        time.sleep(0.2)
        self.proc.terminate()
        self.proc.wait()
        self.out.seek(0)
        self.lines = self.out.read().decode(errors="replace").splitlines()

    def times(self, member, path_prefix=""):
        out = []
        for line in self.lines:
            f = line.split("\t")
            # sig <time> <serial> <sender> <destination> <path> <interface> <member>
            if len(f) >= 8 and f[0] == "sig" and f[7] == member and f[5].startswith(path_prefix):
                out.append(float(f[1]))
        return out


def max_per_second(times):
    """The most events in any one-second window."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best
