#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fluff as a user installs it, under a real systemd user manager.

A Debian container (tests/system/build-root.sh, cached per machine) boots
systemd; a fresh account `dev` gets a lingering user manager and session
bus. Then, in order, each step a check:

1. `cmake --install` of this build to the prefix ~/.local (units in
   ~/.local/share/systemd/user, the activation file in
   ~/.local/share/dbus-1/services, both read by the user's manager and bus).
2. `systemctl --user enable --now fluffd.service fluff-notify.service
   fluff-watch.timer` on a fresh home: fluffd active, its data, config and
   cache folders created by it, no permission error in its journal. The
   unit's sandbox is checked where it is meant to bite (read-only /usr and
   home outside fluffd's folders, no new privileges, a seccomp filter).
3. login, sync and training against the fake site (on the host's
   127.0.0.1, which the container shares).
4. `systemctl --user stop fluffd`: inactive within TimeoutStopSec, result
   "success", the store passes PRAGMA integrity_check.
5. fluffctl with fluffd stopped: D-Bus activation starts fluffd.service
   (the unit, not a bare process) and the call is answered.
6. A watch plus new posts on the site: the timer (its OnCalendar shortened
   by a drop-in) runs fluff-watch.service, fluff-notify shows the new posts
   on the stand-in notification server (tests/notify/notify-standin.c,
   running as a transient user service), its Like reaches the site exactly
   once.
7. The journal: fluffd's lines carry their priorities (an unknown config
   key is a warning, `journalctl -p warning` finds it and none of the info
   lines).

Skipped (77) with the reason when the container cannot be had: not root, no
systemd-nspawn, no debootstrap or mirror, a build with sanitizers (its
runtime is not in the container)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from container import HOME, RUNTIME, UID, Container, SkipContainer, can_boot  # noqa: E402
from fakesite import FakeSite  # noqa: E402

BUILD = os.environ["FLUFF_BUILD_DIR"]
PREFIX = f"{HOME}/.local"
UNIT_DIR = f"{PREFIX}/share/systemd/user"
T0 = time.monotonic()


def step(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Test:
    def __init__(self, c, site, stage):
        self.c, self.site, self.stage = c, site, stage

    # ---- helpers ----
    def ctl(self, *args, input=None, check=True, timeout=300):
        return self.c.user(f"{PREFIX}/bin/fluffctl", *args, input=input, check=check, timeout=timeout)

    def systemctl(self, *args, check=True):
        return self.c.user("systemctl", "--user", *args, check=check)

    def prop(self, unit, name):
        return self.systemctl("show", unit, "-p", name, "--value").stdout.strip()

    def journal(self, unit, *extra):
        r = self.c.user("journalctl", "--user", "-u", unit, "-o", "json", "--no-pager", *extra, check=False)
        return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]

    def home(self, path):
        return self.c.root_path(f"{HOME}/{path}")

    def write_user_file(self, path, text):
        """A file in the user's home, owned by them (written from inside)."""
        self.c.user("mkdir", "-p", os.path.dirname(path))
        self.c.user("sh", "-c", f"cat > '{path}'", input=text)

    def db(self, *queries):
        """Answers from a copy of the user's fluff.db (with its WAL, if any)."""
        src = self.home(".local/share/fluff/fluff.db")
        with tempfile.TemporaryDirectory() as tmp:
            for ext in ("", "-wal"):
                if os.path.exists(src + ext):
                    shutil.copy(src + ext, os.path.join(tmp, "fluff.db" + ext))
            con = sqlite3.connect(os.path.join(tmp, "fluff.db"))
            try:
                return [con.execute(q).fetchone()[0] for q in queries]
            finally:
                con.close()

    def fluffd_log(self):
        return "\n".join(e.get("MESSAGE", "") for e in self.journal("fluffd.service"))[-5000:]

    # ---- the steps ----
    def install(self):
        step("install: cmake --install to ~/.local (staged outside, copied in as the user)")
        self.c.user("cp", "-r", f"/mnt/stage{PREFIX}", f"{HOME}/")
        for unit in ("fluffd.service", "fluff-notify.service", "fluff-watch.service", "fluff-watch.timer"):
            check(os.path.exists(self.c.root_path(f"{UNIT_DIR}/{unit}")), f"{unit} not installed")
        check(os.path.exists(self.home(".local/share/dbus-1/services/io.github.fluffml.Fluff1.service")),
              "activation file not installed")
        # The test's own settings, as drop-ins: where the site is, and a timer
        # that fires every 10 s instead of every half hour.
        self.write_user_file(f"{HOME}/.config/systemd/user/fluffd.service.d/test.conf",
                             f"[Service]\nEnvironment=FLUFF_SITE={self.site.url}\n")
        self.write_user_file(f"{HOME}/.config/systemd/user/fluff-watch.timer.d/test.conf",
                             "[Timer]\nOnCalendar=\nOnCalendar=*:*:0/10\nRandomizedDelaySec=0\n"
                             "AccuracySec=1s\nPersistent=false\n")
        # The recording notification server, as a transient user service.
        self.systemctl("daemon-reload")
        self.c.user("systemd-run", "--user", "--unit=notify-standin", "--collect",
                    "/mnt/stage/notify-standin", "--log", "/tmp/notify-standin.jsonl")
        wait_for(lambda: self.c.user("busctl", "--user", "status", "org.freedesktop.Notifications",
                                     check=False).returncode == 0, 30, "the stand-in notification server")

    def first_start(self):
        step("first start: systemctl --user enable --now fluffd fluff-notify fluff-watch.timer")
        check(not os.path.exists(self.home(".local/share/fluff")), "the home is not fresh")
        self.systemctl("enable", "--now", "fluffd.service", "fluff-notify.service", "fluff-watch.timer")
        for unit in ("fluffd.service", "fluff-notify.service", "fluff-watch.timer"):
            state = self.prop(unit, "ActiveState")
            check(state == "active", f"{unit} is {state}:\n" +
                  self.systemctl("status", unit, check=False).stdout + self.fluffd_log())
        for d in (".local/share/fluff", ".config/fluff", ".cache/fluff"):
            check(os.path.isdir(self.home(d)), f"fluffd did not create ~/{d}:\n{self.fluffd_log()}")
        log = self.fluffd_log()
        for bad in ("Permission denied", "Read-only file system", "Failed to"):
            check(bad not in log, f"fluffd's first start logged {bad!r}:\n{log}")
        self.check_sandbox()

    def check_sandbox(self):
        """What the unit's hardening lines do to the running fluffd."""
        pid = int(self.prop("fluffd.service", "MainPID"))
        check(pid > 0, "no MainPID")
        with open(self.c.root_path(f"/proc/{pid}/status")) as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        check(status["NoNewPrivs"].strip() == "1", "NoNewPrivileges= not applied")
        with open(self.c.root_path(f"/proc/{pid}/limits")) as f:
            core = [line.split()[4:6] for line in f if line.startswith("Max core file size")][0]
        check(core == ["0", "0"], f"LimitCORE=0 not applied: {core}")
        check(status["Seccomp"].strip() == "2", "no seccomp filter (SystemCallArchitectures=, Restrict*=)")

        # Writable or not, as fluffd sees its file system (its mount namespace).
        def writable(path):
            r = self.c.run("nsenter", "-t", str(pid), "-m", "--",
                           "setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
                           "sh", "-c", f"touch '{path}/.fluff-probe' && rm '{path}/.fluff-probe'", check=False)
            return r.returncode == 0
        report = {p: writable(p) for p in ("/usr", "/var/tmp", HOME, f"{HOME}/.local/share/fluff",
                                            f"{HOME}/.config/fluff", f"{HOME}/.cache/fluff")}
        step(f"sandbox: writable as fluffd sees it: {report}")
        for p in ("/usr", "/var/tmp", HOME):
            check(not report[p], f"{p} is writable for fluffd: ProtectSystem=/ProtectHome= not applied")
        for p in (".local/share/fluff", ".config/fluff", ".cache/fluff"):
            check(report[f"{HOME}/{p}"], f"~/{p} is not writable for fluffd")
        # ProtectKernelTunables=, ProtectControlGroups=: read-only mounts.
        with open(self.c.root_path(f"/proc/{pid}/mountinfo")) as f:
            mounts = {}
            for line in f:
                fields = line.split()
                mounts[fields[4]] = fields[5].split(",")
        for point in ("/proc/sys", "/sys/fs/cgroup"):
            check("ro" in mounts.get(point, []), f"{point} is not read-only for fluffd: {mounts.get(point)}")
        # Nice=, IOSchedulingClass=: fluffd yields to the user's programs.
        with open(self.c.root_path(f"/proc/{pid}/stat")) as f:
            nice = int(f.read().rsplit(")", 1)[1].split()[16])
        io = self.c.run("ionice", "-p", str(pid)).stdout.strip()
        step(f"sandbox: nice {nice}, I/O class {io!r}, seccomp filters {status.get('Seccomp_filters', '?').strip()}")
        check(nice == 10, f"Nice=10 not applied: {nice}")
        check(io.startswith("idle"), f"IOSchedulingClass=idle not applied: {io}")

    def login_sync_train(self):
        step("login, sync, train")
        r = self.ctl("login", self.site.user, "--remember", input=self.site.api_key + "\n", check=False)
        check(r.returncode == 0, f"login: {r}\n{self.fluffd_log()}")
        r = self.ctl("sync", check=False, timeout=300)
        check(r.returncode == 0, f"sync: {r.stdout}{r.stderr}\n{self.fluffd_log()}")
        # fluff-watch.timer, enabled above, may start a refresh (a sync) at any
        # moment: train refuses with 75 while it runs, and a user tries again.
        deadline = time.monotonic() + 300
        while True:
            r = self.ctl("train", "--time", "10s", check=False, timeout=300)
            if r.returncode != 75 or time.monotonic() > deadline:
                break
            time.sleep(2)
        check(r.returncode == 0, f"train: {r.stdout}{r.stderr}\n{self.fluffd_log()}")
        status = json.loads(self.ctl("status", "--json").stdout)
        step(f"status: counts {status.get('counts')}")
        check(status["logged_in"], "not logged in after login")
        check(status["counts"]["images"] > 0, f"no images after the sync: {status}")

    def stop_in_time(self):
        step("systemctl --user stop fluffd")
        # The timer's service wants fluffd: it would start it again, and a
        # refresh it runs now (sync, watches, a retrain) would cancel the stop.
        self.systemctl("stop", "fluff-watch.timer", "fluff-watch.service")
        limit = self.prop("fluffd.service", "TimeoutStopUSec")
        t = time.monotonic()
        self.systemctl("stop", "fluffd.service")
        took = time.monotonic() - t
        step(f"stopped in {took:.2f}s (TimeoutStopSec={limit})")
        check(self.prop("fluffd.service", "ActiveState") == "inactive", "fluffd did not stop")
        result = self.prop("fluffd.service", "Result")
        check(result == "success", f"stop result {result!r} (a timeout or a kill, not a clean exit)")
        check(took < 30, f"stop took {took:.1f}s")
        ok, labels = self.db("PRAGMA integrity_check", "SELECT COUNT(*) FROM labels")
        check(ok == "ok", f"integrity_check after stop: {ok}")
        check(labels > 0, "no labels in the store after stop")
        return labels

    def activation(self, labels_before):
        step("D-Bus activation: fluffctl status with fluffd stopped")
        check(self.prop("fluffd.service", "ActiveState") == "inactive", "fluffd is running")
        r = self.ctl("status", "--json", check=False, timeout=60)
        check(r.returncode == 0, f"status through activation: {r}\n{self.fluffd_log()}")
        status = json.loads(r.stdout)
        check(status["logged_in"], "the remembered login was not loaded after activation")
        check(self.prop("fluffd.service", "ActiveState") == "active", "fluffd.service not active after activation")
        # The bus name belongs to the unit's main process, not a bare fluffd.
        bus_log = self.c.user("journalctl", "--user", "-u", "dbus.service", "--no-pager", "-o", "cat").stdout
        check("Activating via systemd: service name='io.github.fluffml.Fluff1' unit='fluffd.service'" in bus_log,
              f"the bus did not activate fluffd.service:\n{bus_log[-2000:]}")
        owner = self.c.user("busctl", "--user", "status", "io.github.fluffml.Fluff1").stdout
        pid = [line.split("=", 1)[1] for line in owner.splitlines() if line.startswith("PID=")][0]
        check(pid == self.prop("fluffd.service", "MainPID"), f"name owner {pid} is not the unit's MainPID")
        labels, = self.db("SELECT COUNT(*) FROM labels")
        check(labels == labels_before, f"labels {labels_before} -> {labels} across the restart")

    def standin_calls(self):
        path = self.c.root_path("/tmp/notify-standin.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip() and json.loads(line)["call"] == "Notify"]

    def watch_timer_notify_like(self):
        step("watch + new posts -> timer -> fluff-notify -> Like")
        self.systemctl("start", "fluff-watch.timer")
        r = self.ctl("watch", "add", "--json", "--threshold", "0", "--max", "2", "--", "-no_such_tag")
        out = json.loads(r.stdout)
        wid = out["id"] if isinstance(out, dict) else int(out)
        # The timer's first run of the new watch announces the best posts it finds.
        first = wait_for(lambda: self.standin_calls(), 60, "the timer's first watch run to notify")
        runs = self.journal("fluff-watch.service")
        check(any("Finished" in e.get("MESSAGE", "") or "Deactivated" in e.get("MESSAGE", "")
                  or e.get("MESSAGE", "").startswith("fluff-watch") for e in runs) or runs,
              "fluff-watch.service never ran")
        n0 = len(first)
        time.sleep(12)  # the timer's next run sees nothing new: no new notification
        check(len(self.standin_calls()) == n0, f"a run with nothing new notified: {self.standin_calls()[n0:]}")
        new_ids = self.site.add_posts(4)
        step(f"site: new posts {new_ids}; waiting for the timer")
        shown = wait_for(lambda: self.standin_calls()[n0:], 60, "notifications for the new posts")
        time.sleep(1)
        shown = self.standin_calls()[n0:]
        singles = [n for n in shown if n["summary"].startswith("Post ")]
        check(singles, f"no single-post notification: {shown}")
        pids = [int(n["summary"].split()[1].rstrip(":")) for n in singles]
        check(set(pids) <= set(new_ids), f"notified {pids}, not among the new posts {new_ids}")
        starts = self.c.user("systemctl", "--user", "show", "fluff-watch.service", "-p",
                             "ExecMainStartTimestampMonotonic", "--value").stdout.strip()
        check(starts not in ("", "0"), "fluff-watch.service has never run")
        step(f"notified {pids}; Like on post {pids[0]}")
        self.site.reset_stats()
        self.c.user("busctl", "--user", "call", "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                    "io.github.fluffml.Test.Notifications", "Invoke", "us", str(singles[0]["id"]), "like")
        wait_for(lambda: [v for v in self.site.stats()["votes"] if v["post_id"] == pids[0]], 30,
                 "the Like to reach the site")
        time.sleep(3)  # a second delivery would come now
        votes = self.site.stats()["votes"]
        check(votes == [{"post_id": pids[0], "score": 1, "no_unvote": True, "method": "POST"}],
              f"votes on the site: {votes}")
        check(pids[0] in self.site.user_state()["upvotes"], "the site does not count the upvote")
        return wid

    def journal_priorities(self):
        step("journal priorities")
        self.write_user_file(f"{HOME}/.config/fluff/config", "system_test_unknown_key = 1\n")
        self.systemctl("restart", "fluffd.service")
        entries = self.journal("fluffd.service")
        mine = [e for e in entries if e.get("_COMM") == "fluffd" or e.get("SYSLOG_IDENTIFIER") == "fluffd"]
        check(mine, "no journal entries from fluffd")
        bad = [e["MESSAGE"] for e in mine if isinstance(e.get("MESSAGE"), str) and e["MESSAGE"].startswith("<")]
        check(not bad, f"priority prefixes left in the messages: {bad[:3]}")
        by_prio = {}
        for e in mine:
            by_prio.setdefault(int(e["PRIORITY"]), []).append(e["MESSAGE"])
        step("fluffd journal lines by priority: " + ", ".join(f"<{p}> {len(m)}" for p, m in sorted(by_prio.items())))
        check(any("unknown key" in m for m in by_prio.get(4, [])), f"the config warning is not at priority 4: {by_prio}")
        check(any(m.startswith("fluffd: Serving") for m in by_prio.get(6, [])), f"no info line at priority 6: {by_prio}")
        warn = self.c.user("journalctl", "--user", "-u", "fluffd.service", "-p", "warning", "--no-pager",
                           "-o", "cat").stdout
        check("unknown key" in warn, f"journalctl -p warning misses the warning:\n{warn}")
        check("Serving" not in warn, f"journalctl -p warning shows info lines:\n{warn}")


def missing_libraries(root, binaries):
    """The shared libraries (as the host's ldd finds them) that the root lacks."""
    missing = set()
    for b in binaries:
        out = subprocess.run(["ldd", b], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split("=>")
            if len(parts) != 2 or not parts[1].strip().startswith("/"):
                continue
            lib = parts[1].split()[0]
            name = os.path.basename(lib)
            if not any(os.path.exists(os.path.join(root, d.lstrip("/"), name))
                       for d in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", os.path.dirname(lib),
                                 "/usr" + os.path.dirname(lib))):
                missing.add(name)
    return sorted(missing)


def main():
    if os.environ.get("FLUFF_SANITIZE") == "1":
        skip("a sanitizer build: its runtime libraries are not in the container")
    why = can_boot()
    if why:
        skip(why)
    r = subprocess.run([os.path.join(HERE, "build-root.sh")], capture_output=True, text=True, timeout=900)
    sys.stderr.write(r.stderr)
    if r.returncode == 77:
        skip("no container root: " + r.stderr.strip().splitlines()[-1])
    check(r.returncode == 0, f"build-root.sh failed ({r.returncode})")
    root = r.stdout.strip()
    step(f"root {root}")

    missing = missing_libraries(root, [os.path.join(BUILD, p) for p in
                                       ("daemon/fluffd", "client/fluffctl", "client/fluff-notify",
                                        "tests/notify-standin")])
    check(not missing, "the container root lacks libraries the binaries link: "
          f"{', '.join(missing)}; add their Debian packages to tests/system/packages.txt")

    tmp = tempfile.mkdtemp(prefix="fluff-system-")
    stage = os.path.join(tmp, "stage")
    try:
        subprocess.run(["cmake", "--install", BUILD, "--prefix", PREFIX], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DESTDIR=stage))
        shutil.copy(os.path.join(BUILD, "tests", "notify-standin"), stage)
        nspawn_log = open(os.path.join(tmp, "nspawn.log"), "w")
        with FakeSite(seed=41, liked=32, disliked=32, both=0, others=40, rate_limit=0) as site, \
                Container(root, binds={"/mnt/stage": stage}, log=nspawn_log) as c:
            step("container booted")
            c.add_user()
            step("user manager of a fresh user is running")
            t = Test(c, site, stage)
            t.install()
            t.first_start()
            t.login_sync_train()
            labels = t.stop_in_time()
            t.activation(labels)
            t.watch_timer_notify_like()
            t.journal_priorities()
            labels2 = t.stop_in_time()
            check(labels2 == labels + 1, f"labels {labels} -> {labels2}, not one more (the Like)")
        step("PASS")
    except SkipContainer as e:
        skip(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
