#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What `cmake --install` puts in place beside the programs: the four man
pages, built from doc/*.scd into roff that man(1) reads; the bash and zsh
completion (bash loads it and completes a command with it); the desktop
entry fluff-notify names and its icon; and the LICENSE the SPDX lines cite."""
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ["FLUFF_BUILD_DIR"]
SOURCE = os.environ["FLUFF_SOURCE_DIR"]
PAGES = {"man1": ["fluffctl.1", "fluff-notify.1"], "man8": ["fluffd.8"], "man5": ["fluff.conf.5"]}


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prefix = tempfile.mkdtemp(prefix="fluff-install-")
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def test_man_pages(self):
        for section, pages in PAGES.items():
            for page in pages:
                path = os.path.join(self.prefix, "share", "man", section, page)
                self.assertTrue(os.path.exists(path), path)
                with open(path) as f:
                    roff = f.read()
                name = page.rsplit(".", 1)[0]
                self.assertRegex(roff, rf'(?m)^\.TH "{name}" "{page[-1]}"')
                self.assertIn(".SH NAME", roff)
                self.assertNotIn("\n# NAME", roff)  # no scdoc source left over
                if shutil.which("man"):
                    r = subprocess.run(["man", "-l", "-P", "cat", path], capture_output=True, text=True,
                                       env=dict(os.environ, MANWIDTH="80"), timeout=60)
                    self.assertEqual(r.returncode, 0, r)
                    self.assertIn(name, r.stdout)
        with open(os.path.join(self.prefix, "share", "man", "man1", "fluffctl.1")) as f:
            text = f.read()
        for word in ("EXIT STATUS", "JSON OUTPUT", "130", "75"):
            self.assertIn(word, text)

    def test_completion(self):
        bash = os.path.join(self.prefix, "share", "bash-completion", "completions", "fluffctl")
        zsh = os.path.join(self.prefix, "share", "zsh", "site-functions", "_fluffctl")
        self.assertTrue(os.path.exists(bash) and os.path.exists(zsh))
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                            f"source {bash} && complete -p fluffctl && COMP_WORDS=(fluffctl pre) COMP_CWORD=1 "
                            "&& _fluffctl && echo \"${COMPREPLY[*]}\""], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("complete -F _fluffctl fluffctl", r.stdout)
        self.assertEqual(r.stdout.splitlines()[-1].split(), ["predict", "predictions"])
        if shutil.which("zsh"):
            r = subprocess.run(["zsh", "-n", zsh], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r)

    def test_desktop_entry_and_icon(self):
        entry = os.path.join(self.prefix, "share", "applications", "io.github.fluffml.Fluff.desktop")
        icon = os.path.join(self.prefix, "share", "icons", "hicolor", "scalable", "apps",
                            "io.github.fluffml.Fluff.svg")
        self.assertTrue(os.path.exists(entry) and os.path.exists(icon))
        with open(entry) as f:
            keys = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        self.assertEqual(keys["Icon"], "io.github.fluffml.Fluff")
        self.assertEqual(keys["Type"], "Application")
        if shutil.which("desktop-file-validate"):
            r = subprocess.run(["desktop-file-validate", entry], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r)
        # fluff-notify names this file in its desktop-entry hint
        with open(os.path.join(SOURCE, "client", "notify", "server.c")) as f:
            self.assertIn('"io.github.fluffml.Fluff"', f.read())

    def test_license(self):
        with open(os.path.join(SOURCE, "LICENSE")) as f:
            self.assertTrue(f.read().startswith("MIT License"))


if __name__ == "__main__":
    unittest.main()
