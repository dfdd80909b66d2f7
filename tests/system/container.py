# SPDX-License-Identifier: MIT
"""A booted Debian container with a real systemd (PID 1) and a user manager
for a fresh user, for tests that need `systemctl --user` for real.

    with Container(root, binds={"/mnt/stage": stage}) as c:
        c.user("systemctl", "--user", "start", "x.service")
        c.root_path("/home/dev/.local/share/fluff/fluff.db")   # host path

How (../shared/systemd-user-tests.md has the measurements): systemd-nspawn
--boot in a cgroup of its own, --register=no --keep-unit since the host has
no systemd to ask for a scope; --volatile=overlay, so the cached root stays
untouched and every run starts from the same image (writes go to a tmpfs);
commands run through nsenter into the container's PID 1, as root or as the
user with runuser. The container shares the host's network, so a server on
the host's 127.0.0.1 is reachable from inside.
"""
import os
import shutil
import subprocess
import time

USER, UID = "dev", 1000
HOME = f"/home/{USER}"
RUNTIME = f"/run/user/{UID}"


class SkipContainer(Exception):
    """The container cannot be had on this machine (the reason is the text)."""


def can_boot():
    """None, or why systemd-nspawn cannot run here."""
    if os.geteuid() != 0:
        return "needs root for systemd-nspawn"
    if not shutil.which("systemd-nspawn"):
        return "no systemd-nspawn (Debian package systemd-container)"
    if not shutil.which("nsenter"):
        return "no nsenter (util-linux)"
    if not os.path.isdir("/sys/fs/cgroup"):
        return "no /sys/fs/cgroup"
    return None


class Container:
    def __init__(self, root, binds=None, name=None, log=None):
        self.root = root
        self.binds = binds or {}
        self.name = name or f"fluff-system-{os.getpid()}"
        self.log = log
        self.proc = None
        self.pid1 = None
        self.cgroups = []

    # ---- life cycle ----
    def _cgroup_dirs(self):
        """Where nspawn gets a cgroup of its own: the v1 name=systemd
        hierarchy and the unified one on a hybrid host, or the one tree."""
        base = "/sys/fs/cgroup"
        if os.path.exists(os.path.join(base, "cgroup.controllers")):  # pure v2
            return [os.path.join(base, self.name)]
        return [os.path.join(base, h, self.name) for h in ("systemd", "unified")
                if os.path.isdir(os.path.join(base, h))]

    def start(self, timeout=60):
        why = can_boot()
        if why:
            raise SkipContainer(why)
        self.cgroups = self._cgroup_dirs()
        for d in self.cgroups:
            os.makedirs(d, exist_ok=True)
        cgroups = self.cgroups

        def into_cgroup():
            for d in cgroups:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        cmd = ["systemd-nspawn", "--quiet", "-D", self.root, "--volatile=overlay", "--boot",
               "--register=no", "--keep-unit", f"--machine={self.name}", "--console=pipe"]
        for inside, outside in self.binds.items():
            cmd.append(f"--bind-ro={outside}:{inside}")
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        self.log = self.log or open(os.devnull, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     env=env, preexec_fn=into_cgroup)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SkipContainer(f"systemd-nspawn exited with {self.proc.returncode} (see its log)")
            self.pid1 = self._find_pid1()
            if self.pid1:
                r = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=end - time.monotonic())
                state = r.stdout.strip()
                if state in ("running", "degraded"):
                    if state == "degraded":
                        failed = self.run("systemctl", "--failed", "--no-legend", check=False).stdout
                        print(f"container: degraded; failed units:\n{failed}", flush=True)
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"the container did not boot in {timeout}s")

    def _find_pid1(self):
        """The container's init: the one child of the nspawn process."""
        try:
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{task}/children") as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
        except OSError:
            pass
        return None

    def stop(self, timeout=30):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.run("systemctl", "poweroff", "--no-block", check=False, timeout=10)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None
        for d in self.cgroups:
            # nested cgroups the container made, deepest first
            for dirpath, dirs, _ in sorted(os.walk(d), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    # ---- commands ----
    def run(self, *args, input=None, check=True, timeout=120, env=None):
        """A command as root inside the container."""
        cmd = ["nsenter", "-t", str(self.pid1), "-a", "--", "env", "-i",
               "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        cmd += [f"{k}={v}" for k, v in (env or {}).items()]
        r = subprocess.run(cmd + list(args), input=input, capture_output=True, text=True,
                           timeout=max(timeout, 1))
        if check and r.returncode != 0:
            raise AssertionError(f"in the container: {' '.join(args)} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def user(self, *args, **kw):
        """A command as the user, in their session: the user bus, their
        manager, $HOME (as a login would set them)."""
        env = {"HOME": HOME, "USER": USER, "LOGNAME": USER, "XDG_RUNTIME_DIR": RUNTIME,
               "DBUS_SESSION_BUS_ADDRESS": f"unix:path={RUNTIME}/bus", "LANG": "C.UTF-8"}
        env.update(kw.pop("env", None) or {})
        return self.run("runuser", "-u", USER, "--", "env", *[f"{k}={v}" for k, v in env.items()],
                        *args, **kw)

    def add_user(self, timeout=60):
        """A fresh account with lingering on, as `loginctl enable-linger`
        leaves it: its user manager and session bus start now."""
        self.run("useradd", "--create-home", "--uid", str(UID), "--shell", "/bin/bash", USER)
        self.run("loginctl", "enable-linger", USER)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.run("systemctl", "is-active", f"user@{UID}.service", check=False)
            if r.stdout.strip() == "active" and os.path.exists(self.root_path(f"{RUNTIME}/bus")):
                return
            time.sleep(0.1)
        raise AssertionError(f"user@{UID}.service did not start:\n"
                             + self.run("systemctl", "status", f"user@{UID}.service", check=False).stdout)

    def root_path(self, path):
        """The host's path to a file inside the running container."""
        return f"/proc/{self.pid1}/root{path}"
