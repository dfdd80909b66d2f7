#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fluffctl's command line as a script or a person meets it, against a synced
fluffd on a private bus and the fake site (tags only: no backbone):

- every command's --json is valid JSON with exactly the keys fluffctl(1)
  documents (read from doc/fluffctl.1.scd, so the page and the code agree);
  numbers are numbers, lists are lists; login/logout refuse --json (exit 2);
- exit status 2 for wrong usage with "see `fluffctl CMD --help`", an option of
  another command refused, 75 where the user must act (not logged in), 130 on
  Ctrl-C while a job runs;
- "--" ends the options: a negated tag after it, "--count" after it a tag;
- tables fit $COLUMNS and cut the tag list between tags; their IMAGE, TAGS
  and BIAS add up to LOGIT; a prediction's explanation adds up in --json
  and on the --html page;
- predict --sheet and --html: the sheet's size follows its grid, the page is
  self-contained and, in headless Chromium, shows the thumbnails (a
  screenshot of the page against one with the images taken out);
- the bash completion offers commands, options and live watch and job ids;
- `jobs` shows a running job's current progress (the images counted as
  they arrive, never backwards), when it started and how long it has run,
  and a finished job's summary and final time."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from synced import SyncedCase  # noqa: E402
from fluffd import FLUFFCTL  # noqa: E402

SOURCE = os.environ.get("FLUFF_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
QUERY = "-no_such_tag_anywhere"


def documented_objects():
    """{name: [keys]} from the JSON OUTPUT section of fluffctl(1)."""
    with open(os.path.join(SOURCE, "doc", "fluffctl.1.scd")) as f:
        text = f.read()
    section = text.split("# JSON OUTPUT", 1)[1].split("\n# ", 1)[0]
    objects = {}
    for m in re.finditer(r"^- \*([a-z ]+)\*: \{([^}]*)\}", section, re.M):
        objects[m.group(1)] = [k.strip() for k in m.group(2).split(",")]
    assert len(objects) >= 12, objects
    return objects


DOC = documented_objects()
# the model object grows with how a model was trained (fine-tuning, the
# small CNN, ensembles): its documented keys must be there, others may be
OPEN = {"model"}


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html, png, width=1280, height=1000):
    """html → png in a fresh headless Chromium with no network or profile."""
    profile = tempfile.mkdtemp(prefix="fluff-chromium-")
    try:
        r = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
                            f"--window-size={width},{height}", f"--screenshot={png}", "file://" + html],
                           capture_output=True, text=True, timeout=120)
        assert os.path.exists(png), r
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def vips(*args):
    r = subprocess.run(["vips"] + [str(a) for a in args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    return r.stdout.strip()


def vipsheader(field, path):
    r = subprocess.run(["vipsheader", "-f", field, path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    return int(r.stdout.strip())


class Ctl(SyncedCase):
    SEED, SITE = 31, dict(liked=30, disliked=30, both=0, others=80, rate_limit=0)
    CONFIG = {"rate_limit": 2, "image_size": 64}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.d.ctl("train", "--time", "5s", "--json")
        assert r.returncode == 0, f"{r!r}\n{cls.d.log()[-3000:]}"
        cls.train_json = r.stdout
        r = cls.d.ctl("predict", "--count", "8", "--json", "--", QUERY)
        assert r.returncode == 0, f"{r!r}\n{cls.d.log()[-3000:]}"
        cls.predict_json = r.stdout
        cls.tmp = tempfile.mkdtemp(prefix="fluff-ctl-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # ---- helpers ----
    def json_of(self, *args, rc=0):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, rc, f"{r!r}\n{self.d.log()[-2000:]}")
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            self.fail(f"fluffctl {' '.join(args)}: not JSON ({e}): {r.stdout!r}")

    def assertObject(self, o, name):
        self.assertIsInstance(o, dict, (name, o))
        keys = set(DOC[name])
        ok = keys <= set(o) if name in OPEN else keys == set(o)
        self.assertTrue(ok, f"{name}: keys {sorted(o)}, documented {sorted(keys)}")

    def assertPrediction(self, p):
        self.assertObject(p, "prediction")
        self.assertIsInstance(p["id"], int)
        self.assertIsInstance(p["rank"], int)
        self.assertIsInstance(p["score"], float)
        self.assertTrue(0 <= p["score"] <= 1)
        self.assertIn(p["label"], ("like", "dislike"))
        self.assertIsInstance(p["top_tags"], list)
        self.assertTrue(p["top_tags"], p)
        for t in p["top_tags"]:
            self.assertObject(t, "tag push")
            self.assertIsInstance(t["push"], (int, float))
            self.assertIsInstance(t["tag"], str)
        e = p["explanation"]
        self.assertObject(e, "explanation")
        for k in ("logit", "bias", "image", "tags"):
            self.assertIsInstance(e[k], (int, float), (k, e))
        self.assertLessEqual(abs(e["bias"] + e["image"] + e["tags"] - e["logit"]),
                             2.5e-4 + 1e-5 * (abs(e["bias"]) + abs(e["image"]) + abs(e["tags"])), e)
        self.assertIn(e["calibration"], ("none", "platt", "isotonic"))
        for key, sign in (("tags_up", 1), ("tags_down", -1)):
            self.assertIsInstance(e[key], list)
            for t in e[key]:
                self.assertObject(t, "tag push")
                self.assertGreaterEqual(sign * t["push"], 0, e)  # to 1e-4: the smallest may read 0

    def assertJob(self, j):
        self.assertObject(j, "job")
        for k in ("id", "done", "total", "created_usec", "finished_usec"):
            self.assertIsInstance(j[k], int, (k, j))
        self.assertIn(j["state"], ("queued", "running", "done", "failed", "cancelled"))

    def assertUsage(self, r, command):
        self.assertEqual(r.returncode, 2, r)
        self.assertIn(f'see "fluffctl {command} --help"', r.stderr, r)
        self.assertEqual(r.stdout, "", r)

    # ---- JSON ----
    def test_json_every_command(self):
        # numbers keep six significant digits, not 17
        self.assertFalse(re.search(r"\d\.\d{7,}", self.predict_json), self.predict_json[:400])
        rows = json.loads(self.predict_json)
        self.assertEqual(len(rows), 8)
        for i, p in enumerate(rows):
            self.assertPrediction(p)
            self.assertEqual(p["rank"], i + 1)
        self.assertEqual([p["score"] for p in rows], sorted((p["score"] for p in rows), reverse=True))

        model = json.loads(self.train_json)
        self.assertObject(model, "model")
        self.assertObject(model["metrics"], "metrics")
        self.assertIsInstance(model["threshold"], float)
        self.assertNotIn("threshold", model["metrics"])  # one threshold, not two

        s = self.json_of("status", "--json")
        self.assertObject(s, "status")
        self.assertObject(s["counts"], "counts")
        self.assertObject(s["outbox"], "outbox")
        self.assertObject(s["backbone"], "backbone")
        self.assertObject(s["model"], "model")
        self.assertIsInstance(s["jobs"], list)
        self.assertGreater(s["counts"]["liked"], 0)
        self.assertIsInstance(s["counts"]["liked"], int)

        jobs = self.json_of("jobs", "--json")
        self.assertTrue(jobs)
        for j in jobs:
            self.assertJob(j)
        self.assertObject(self.json_of("backbone", "status", "--json"), "backbone")

        self.assertJob(self.json_of("sync", "--json"))
        # no backbone: refused before a job exists (75: import one first), nothing on stdout
        e = self.ctl("embed", "--json")
        self.assertEqual((e.returncode, e.stdout), (75, ""), e)
        self.assertIn("backbone import", e.stderr)

        for cmd in (("predictions", "--json"), ("review", "--json", "--count", "3")):
            got = self.json_of(*cmd)
            self.assertTrue(got)
            for p in got:
                self.assertPrediction(p)

        w = self.json_of("watch", "add", "--json", "--threshold", "0.999", "--max", "1", "--", QUERY)
        self.assertObject(w, "watch")
        self.assertEqual((w["tags"], w["threshold"], w["max_per_run"]), (QUERY, 0.999, 1))
        listed = self.json_of("watch", "list", "--json")
        self.assertIn(w["id"], [x["id"] for x in listed])
        for x in listed:
            self.assertObject(x, "watch")
        run = self.json_of("watch", "run", "--json", str(w["id"]))
        self.assertIsInstance(run, list)
        for g in run:
            self.assertObject(g, "watch run")
            self.assertEqual(g["id"], w["id"])
            for p in g["posts"]:
                self.assertPrediction(p)
        gone = self.json_of("watch", "remove", "--json", str(w["id"]))
        self.assertObject(gone, "removed watch")
        self.assertEqual(gone, {"id": w["id"], "removed": True})

        pid = rows[-1]["id"]
        # never voted on: nothing to clear, and no claim that a removal was recorded
        got = self.json_of("unvote", "--json", str(pid), rc=1)
        self.assertEqual((got[0]["recorded"], got[0]["vote"]), (False, "none"), got)
        self.assertIn("no like or dislike", got[0]["error"])
        url = f"{self.site.url}/posts/{pid}?q=x"
        for verb, vote in (("like", "like"), ("dislike", "dislike"), ("unvote", "none")):
            got = self.json_of(verb, "--json", str(pid), url)
            self.assertEqual(len(got), 2)
            for v in got:
                self.assertObject(v, "vote")
                self.assertEqual((v["id"], v["vote"], v["recorded"], v["error"]), (pid, vote, True, None))

        # --no-wait prints the job (never a bus path); cancel prints it too
        self.site.fault("slow", delay_ms=1500, path=r"^/posts\.json")
        try:
            j = self.json_of("sync", "--no-wait", "--json")
            self.assertJob(j)
            plain = self.ctl("cancel", str(j["id"]))
            self.assertEqual(plain.returncode, 0, plain)
            self.assertEqual(plain.stdout.strip(), f"Cancelled job {j['id']}.")
            self.assertNotIn("/io/github", plain.stdout)
            again = self.json_of("jobs", "--json")
            self.assertEqual([x["state"] for x in again if x["id"] == j["id"]], ["cancelled"])
        finally:
            self.site.clear_faults()

    def test_json_refused_with_2(self):
        for args, cmd in ((["login", "--json", "someone"], "login"), (["logout", "--json"], "logout")):
            r = self.ctl(*args, input="key\n")
            self.assertUsage(r, cmd)
            self.assertIn("does not take --json", r.stderr)

    # ---- usage, exit status, -- ----
    def test_usage_errors_exit_2(self):
        cases = [
            (["watch", "add", "--count", "5", "rating:s"], "watch add", 'does not take --count'),
            (["status", "--sheet", "x.png"], "status", "does not take --sheet"),
            (["predict", "-canine"], "predict", 'a negated tag goes after "--"'),
            (["predict", "--count"], "predict", "needs a value"),
            (["predict", "--count", "0", QUERY], None, "Invalid --count"),
            (["status", "extra"], "status", "Too many arguments"),
            (["cancel"], "cancel", "needs JOB"),
            (["like", "abc"], None, "not a post id"),
            (["like", "https://example.org/users/5"], None, "not a post id"),
            (["frobnicate"], "", "Unknown command"),
            (["watch", "frob"], None, "Unknown command"),
        ]
        for args, cmd, why in cases:
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, (args, r))
            self.assertIn(why, r.stderr, (args, r))
            if cmd:
                self.assertIn(f'see "fluffctl {cmd} --help"', r.stderr, (args, r))
            elif cmd == "":
                self.assertIn('see "fluffctl --help"', r.stderr, (args, r))
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, (args, r))
        # a command's own help: its options only, exit 0
        r = self.ctl("watch", "add", "--help")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("--threshold", r.stdout)
        self.assertNotIn("--count", r.stdout)

    def test_y_double_dash(self):
        # before "--" options, after it a query, even one that looks like options
        rows = self.json_of("predict", "--count", "3", "--json", "--", QUERY)
        self.assertEqual(len(rows), 3)
        r = self.ctl("predict", "--", QUERY, "--count", "2")
        self.assertIn(f'"{QUERY} --count 2"', r.stdout + r.stderr, r)
        # the options may follow the arguments, as git allows before "--"
        w = self.json_of("watch", "add", "solo", "--max", "3", "--json")
        self.assertEqual((w["tags"], w["max_per_run"]), ("solo", 3))
        self.json_of("watch", "remove", str(w["id"]), "--json")

    def test_table_fits_and_cuts_between_tags(self):
        for columns in (60, 100):
            env = dict(self.d.env(), COLUMNS=str(columns))
            r = subprocess.run([FLUFFCTL, "predictions"], capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r)
            lines = r.stdout.splitlines()
            headers = re.split(r"\s{2,}", lines[0].strip())
            # IMAGE TAGS BIAS LOGIT: as many as fit, dropped from the right on a narrow terminal
            self.assertEqual(headers[:4], ["RANK", "ID", "SCORE", "LABEL"], lines[0])
            parts = headers[4:headers.index("TOP TAGS")]
            self.assertEqual(parts, ["IMAGE", "TAGS", "BIAS", "LOGIT"][:len(parts)], lines[0])
            self.assertEqual(len(parts), 4 if columns >= 100 else len(parts), lines[0])
            self.assertGreaterEqual(len(parts), 1, lines[0])
            table = [line for line in lines[1:] if re.match(r"\s*\d+\s+\d+\s+0\.\d{3}\s", line)]
            self.assertEqual(len(table), 8, r.stdout)
            for line in table:
                self.assertLessEqual(len(line), columns, line)
                cells = re.split(r"\s{2,}", line.strip())
                if len(parts) == 4:  # IMAGE + TAGS + BIAS = LOGIT, each to two decimals
                    image, tags_share, bias, logit = (float(c) for c in cells[4:8])
                    self.assertLessEqual(abs(image + tags_share + bias - logit), 0.02, line)
                tags = cells[4 + len(parts)]
                # whole "tag +0.12" items, then "…" where cut
                for item in tags.split(", "):
                    self.assertRegex(item, r"^(\S+ [+-]\d\.\d\d|…)$", line)

    def test_drawing_module(self):
        """Only the commands that draw load libvips and libchafa, from
        fluffctl-images.so: a status answers without them (loading them cost
        each status 60-160 ms on a busy machine). The module is found beside
        a build tree's fluffctl and where `cmake --install` puts it (any
        prefix); a fluffctl without it fails with one line naming it and
        writes no sheet."""
        loaded = dict(self.d.env(), LD_DEBUG="files")
        r = subprocess.run([FLUFFCTL, "status", "--json"], capture_output=True, text=True, env=loaded, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertNotRegex(r.stderr, r"file=\S*(libvips|libchafa|fluffctl-images)")
        sheet = os.path.join(self.tmp, "module-sheet.png")
        r = subprocess.run([FLUFFCTL, "predictions", "--sheet", sheet], capture_output=True, text=True,
                           env=loaded, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stderr, r"file=\S*fluffctl-images\.so")
        self.assertRegex(r.stderr, r"file=\S*libvips")
        self.assertGreater(os.path.getsize(sheet), 1000)

        prefix = os.path.join(self.tmp, "prefix")
        r = subprocess.run(["cmake", "--install", os.path.dirname(os.path.dirname(FLUFFCTL)), "--prefix", prefix],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r)
        os.unlink(sheet)
        r = subprocess.run([os.path.join(prefix, "bin", "fluffctl"), "predictions", "--sheet", sheet],
                           capture_output=True, text=True, env=self.d.env(), timeout=120)
        self.assertEqual(r.returncode, 0, r)
        self.assertGreater(os.path.getsize(sheet), 1000)

        lone = os.path.join(self.tmp, "lone")
        os.makedirs(lone)
        shutil.copy(FLUFFCTL, lone)
        os.unlink(sheet)
        r = subprocess.run([os.path.join(lone, "fluffctl"), "predictions", "--sheet", sheet], capture_output=True,
                           text=True, env=self.d.env(), timeout=120)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r)
        self.assertIn("fluffctl-images.so is missing", r.stderr)
        self.assertFalse(os.path.exists(sheet))

    def test_sheet_and_html(self):
        rows = self.json_of("predictions", "--json")
        sheet, page = os.path.join(self.tmp, "sheet.png"), os.path.join(self.tmp, "page.html")
        r = self.ctl("predictions", "--sheet", sheet, "--html", page)
        self.assertEqual(r.returncode, 0, f"{r!r}\n{self.d.log()[-2000:]}")
        keep = os.environ.get("FLUFF_KEEP_SCREENSHOTS")  # to look at them
        if keep:
            os.makedirs(keep, exist_ok=True)
            shutil.copy(sheet, keep)
            shutil.copy(page, keep)
        # 8 tiles: 4 columns of (192 + 2×6 frame), 10 apart, 16 margin each side
        self.assertEqual(vipsheader("width", sheet), 2 * 16 + 4 * 204 + 3 * 10)
        self.assertGreater(vipsheader("height", sheet), 2 * (204 + 44) + 10 + 2 * 16 + 60)

        with open(page) as f:
            html = f.read()
        self.assertNotRegex(html, r"(src|href)=\"(file:|/)")  # nothing from the disk
        self.assertEqual(len(re.findall(r'<img src="data:image/jpeg;base64,', html)), len(rows))
        for p in rows:
            self.assertIn(f'href="{p["url"]}"', html)
            self.assertIn(f'{p["score"]:.3f} {p["label"]}', html)
            for t in p["top_tags"]:
                self.assertIn(t["tag"], html)
        # each tile says what its score is made of: the parts, which add up
        whys = re.findall(r'id="post-(\d+)".*?<div class="why" data-image="([^"]+)" data-tags="([^"]+)" '
                          r'data-bias="([^"]+)" data-logit="([^"]+)">image [+-]\d+\.\d\d \+ tags [+-]\d+\.\d\d '
                          r'\+ bias [+-]\d+\.\d\d = logit [+-]\d+\.\d\d</div>', html, re.S)
        self.assertEqual([int(w[0]) for w in whys], [p["id"] for p in rows], html)
        for w, p in zip(whys, rows):
            image, tags_share, bias, logit = (float(x) for x in w[1:])
            self.assertLessEqual(abs(image + tags_share + bias - logit), 2e-4, w)
            self.assertAlmostEqual(logit, p["explanation"]["logit"], delta=1e-3)

        # a missing folder: one clear line, exit 1
        bad = self.ctl("predictions", "--sheet", "/nonexistent/dir/x.png")
        self.assertEqual(bad.returncode, 1, bad)
        self.assertEqual(len(bad.stderr.strip().splitlines()), 1, bad)

        if not chromium():
            self.skipTest("no chromium: the page is not looked at")
        shot, bare_shot = os.path.join(self.tmp, "page.png"), os.path.join(self.tmp, "bare.png")
        bare = os.path.join(self.tmp, "bare.html")
        with open(bare, "w") as f:
            f.write(re.sub(r"<img [^>]*>", "", html))
        screenshot(page, shot)
        if keep:
            shutil.copy(shot, keep)
        screenshot(bare, bare_shot)
        self.assertEqual(vipsheader("width", shot), 1280)
        # the thumbnails are what differs: a clear difference, over the first row
        diff = os.path.join(self.tmp, "diff.v")
        vips("subtract", shot, bare_shot, diff)
        top = os.path.join(self.tmp, "top.v")
        vips("crop", diff, top, 0, 0, 1280, 500)
        absd = os.path.join(self.tmp, "abs.v")
        vips("abs", top, absd)
        mean = float(vips("avg", absd))
        print(f"page vs page without images: mean |difference| {mean:.1f} over the top 500 px",
              file=sys.stderr)
        self.assertGreater(mean, 8.0)

    def test_completion_with_live_ids(self):
        w = self.json_of("watch", "add", "--json", "--", QUERY)
        env = dict(self.d.env())
        env["PATH"] = os.path.dirname(FLUFFCTL) + ":" + env["PATH"]
        script = os.path.join(SOURCE, "completion", "fluffctl.bash")

        def complete(line, with_bash_completion=False):
            words = line.split(" ")
            pre = ""
            if with_bash_completion and os.path.exists("/usr/share/bash-completion/bash_completion"):
                pre = "source /usr/share/bash-completion/bash_completion; "
            cmd = (pre + f"source {script}; COMP_LINE='{line}'; COMP_POINT={len(line)}; "
                   f"COMP_WORDS=({' '.join(repr(x) if x else repr('') for x in words)}); "
                   f"COMP_CWORD={len(words) - 1}; _fluffctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
            r = subprocess.run(["bash", "--norc", "--noprofile", "-c", cmd], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r)
            return r.stdout.split()

        try:
            for bc in (False, True):
                self.assertEqual(complete("fluffctl wat", bc), ["watch"])
                self.assertEqual(sorted(complete("fluffctl watch re", bc)), ["remove"])
                self.assertIn("--count", complete("fluffctl predict --c", bc))
                self.assertNotIn("--count", complete("fluffctl watch add --", bc))
                self.assertIn(str(w["id"]), complete("fluffctl watch remove ", bc))
                jobs = [str(j["id"]) for j in self.json_of("jobs", "--json")]
                self.assertEqual(sorted(complete("fluffctl cancel ", bc)), sorted(jobs))
        finally:
            self.ctl("watch", "remove", str(w["id"]))

    def run_interactive(self, keys, term, pixels):
        """review --interactive under an 80×24 pseudo-terminal; keys typed one
        by one once the key line is on screen. Returns (exit status, output)."""
        import fcntl
        import pty
        import struct
        import termios
        env = dict(self.d.env(), TERM=term)
        env.pop("KITTY_WINDOW_ID", None)
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(FLUFFCTL, [FLUFFCTL, "review", "--interactive", "--count", "3"], env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 80 * 10 if pixels else 0,
                                                       24 * 20 if pixels else 0))
        out = b""

        def read_until(done, timeout=60):
            nonlocal out
            deadline = time.monotonic() + timeout
            while not done() and time.monotonic() < deadline:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            return done()

        for i, k in enumerate(keys):
            # screen i is up when its key line is (each key here moves on)
            self.assertTrue(read_until(lambda: out.count(b"]\x1b[0muit") > i), out[-2000:])
            os.write(fd, k.encode())
        read_until(lambda: b"Reviewed" in out and out.endswith(b"\n"), 30)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out

    def test_x_review_interactive(self):
        before = self.json_of("review", "--json", "--count", "3")
        self.assertEqual(len(before), 3)
        st0 = self.json_of("status", "--json")["counts"]
        # like the first, skip the second, dislike the third
        rc, out = self.run_interactive(["l", "s", "d"], "xterm-256color", pixels=False)
        self.assertEqual(rc, 0, out[-2000:])
        text = out.decode(errors="replace")
        for p in before:
            self.assertIn(f"id {p['id']}", text)
            # with the picture's and the tags' shares of its score
            self.assertRegex(text, rf"id {p['id']}  score \d\.\d{{3}} \(image [+-]\d+\.\d, tags [+-]\d+\.\d\)")
        self.assertIn("Reviewed 3 of 3 posts: 1 liked, 1 disliked, 1 skipped.", text)
        self.assertRegex(text, "\x1b\\[38;2;\\d+;\\d+;\\d+m")  # the picture in truecolour symbols
        st1 = self.json_of("status", "--json")["counts"]
        self.assertEqual((st1["liked"] - st0["liked"], st1["disliked"] - st0["disliked"]), (1, 1))
        after = [p["id"] for p in self.json_of("review", "--json", "--count", "320")]
        self.assertNotIn(before[0]["id"], after)
        self.assertNotIn(before[2]["id"], after)
        self.assertIn(before[1]["id"], after)

        # a terminal that speaks kitty's graphics protocol gets pixels; q leaves
        rc, out = self.run_interactive(["q"], "xterm-kitty", pixels=True)
        self.assertEqual(rc, 0, out[-2000:])
        self.assertIn(b"\x1b_G", out)
        # Ctrl-C: the terminal given back, exit 130
        rc, out = self.run_interactive(["\x03"], "xterm-256color", pixels=False)
        self.assertEqual(rc, 130, out[-2000:])
        self.assertIn(b"\x1b[?25h", out)
        # not a terminal, or with --json: wrong usage
        r = self.ctl("review", "--interactive")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("needs a terminal", r.stderr)
        r = self.ctl("review", "--interactive", "--json")
        self.assertUsage(r, "review")

    def test_progress_fitted_to_80_columns(self):
        """fluffctl sync under an 80-column pseudo-terminal: one line redrawn
        in place, never wider than 79 columns, one "done" at the end; with
        stderr in a pipe only that final line."""
        import fcntl
        import pty
        import struct
        import termios
        self.site.fault("slow", delay_ms=700, path=r"^/posts\.json")
        try:
            pid, fd = pty.fork()
            if pid == 0:
                os.execve(FLUFFCTL, [FLUFFCTL, "sync"], dict(self.d.env(), TERM="xterm"))
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            out = b""
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            _, status = os.waitpid(pid, 0)
            os.close(fd)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
            text = out.decode()
            self.assertIn("\r", text)
            lines = text.replace("\r\n", "\n").split("\n")
            self.assertEqual(len([line for line in lines if line.rstrip().endswith(", done.")]), 1, text)
            self.assertNotIn("-- (0), done.", text)  # the last counts, not the finished job's reset ones
            drawn = [seg for line in lines for seg in line.split("\r") if re.search(r": (\d+%|--) \(", seg)]
            self.assertTrue(drawn, text)
            for seg in drawn:  # the progress line; the summary after it is plain text
                self.assertLessEqual(len(seg), 79, repr(seg))

            r = self.ctl("sync")  # stderr is a pipe here
            self.assertEqual(r.returncode, 0, r)
            self.assertNotIn("\r", r.stderr)
            self.assertLessEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertTrue(r.stderr == "" or r.stderr.endswith(", done.\n"), r.stderr)
        finally:
            self.site.clear_faults()

    def test_w_job_ids_survive_a_restart(self):
        before = self.json_of("sync", "--json")["id"]
        self.d.restart()
        try:
            # the old id names no job now; a new job gets a new id, not 1 again
            r = self.ctl("cancel", str(before))
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("No such job", r.stderr)
        finally:
            self.assertEqual(self.d.login(self.site.user, self.site.api_key).returncode, 0)
        after = self.json_of("sync", "--json")
        self.assertEqual(after["id"], before + 1, after)
        self.assertEqual(after["path"].rsplit("/", 1)[1], str(after["id"]))
        self.assertEqual([j["id"] for j in self.json_of("jobs", "--json")], [after["id"]])

    def jobs_row(self, job_id):
        """The job's line of `fluffctl jobs`, parsed: state, done, total, started, seconds, message."""
        env = dict(self.d.env(), COLUMNS="250")
        r = subprocess.run([FLUFFCTL, "jobs"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        for line in r.stdout.splitlines()[1:]:
            m = re.match(r"^\s*(\d+)\s+\S+\s+(\w+)\s+(?:(\d+)% (\d+)/(\d+)\s+|(\d+)\s+)?(\d\d:\d\d:\d\d)\s+"
                         r"(?:(\d+)\.(\d)s|(\d+)m (\d\d)s|(\d+)h (\d\d)m)\s+(.*)$", line)
            self.assertTrue(m, line)
            if int(m.group(1)) != job_id:
                continue
            g = m.groups()
            if g[2] is not None:
                self.assertEqual(int(g[2]), int(g[3]) * 100 // int(g[4]), line)
            secs = (int(g[7]) + int(g[8]) / 10 if g[7] is not None else
                    int(g[9]) * 60 + int(g[10]) if g[9] is not None else int(g[11]) * 3600 + int(g[12]) * 60)
            return {"state": g[1], "done": int(g[3] or g[5] or 0), "total": int(g[4] or 0),
                    "started": g[6], "secs": secs, "message": g[13], "line": line}
        self.fail(f"job {job_id} not in\n{r.stdout}")

    def test_y_jobs_show_current_progress_and_times(self):
        # Slow images: the predict job's download phase takes seconds, 4 at a time.
        self.site.fault("slow", delay_ms=1500, path=r"^/data/")
        try:
            job = self.json_of("predict", "--count", "8", "--no-wait", "--json", "--", QUERY)
            created = job["created_usec"] / 1e6
            running = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                row = self.jobs_row(job["id"])
                now = time.time()
                if row["state"] not in ("queued", "running"):
                    break
                running.append((now, row))
                time.sleep(0.2)
        finally:
            self.site.clear_faults()
        self.assertEqual(row["state"], "done", row)
        # started: the job's own creation time; elapsed: the time since, at each look
        self.assertEqual(row["started"], time.strftime("%H:%M:%S", time.localtime(created)))
        self.assertGreaterEqual(len(running), 3, running)
        for now, r in running:
            self.assertLessEqual(abs(r["secs"] - (now - created)), 1.5, r)
        self.assertGreater(running[-1][1]["secs"], running[0][1]["secs"])
        # progress as it is now: the images counted while they come in, never backwards
        images = [r for _, r in running if r["total"] == 8]
        counts = [r["done"] for r in images]
        self.assertEqual(counts, sorted(counts), running)
        self.assertTrue(any(0 < c < 8 for c in counts), [r["line"] for _, r in running])
        # finished: the time stops and the message is the summary
        again = self.jobs_row(job["id"])
        self.assertEqual(again["secs"], row["secs"])
        self.assertIn("Predicted 8 posts", row["message"])

    def test_z_ctrl_c_130_and_not_logged_in_75(self):
        self.site.fault("slow", delay_ms=1500, path=r"^/posts\.json")
        try:
            p = subprocess.Popen([FLUFFCTL, "sync"], env=self.d.env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any(j["state"] == "running" for j in self.json_of("jobs", "--json")):
                    break
                time.sleep(0.2)
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 130, err)
        finally:
            self.site.clear_faults()
        r = self.ctl("logout")
        self.assertEqual((r.returncode, r.stdout), (0, "Logged out.\n"), r)
        # logged out already: no claim that a key was deleted
        r = self.ctl("logout", "--forget")
        self.assertEqual((r.returncode, r.stdout), (0, "Not logged in; no saved key is left.\n"), r)
        for args in (["sync"], ["watch", "run"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 75, (args, r))
        r = self.d.login(self.site.user, self.site.api_key)
        self.assertEqual(r.returncode, 0, r)


if __name__ == "__main__":
    unittest.main()
