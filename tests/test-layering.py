#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keeps fluffd in layers (daemon/README.md): reads every #include under
daemon/ and fails on one that runs up a layer or sideways between two feature
folders, unless the table ALLOWED below names that edge with its reason. It
also fails when sd-bus calls (`sd_bus_`) appear in a .c file of daemon/
outside dbus/, unless SD_BUS_CLIENTS names the file.

    tests/test-layering.py [ROOT]     (ROOT: the source tree, default ..)
"""
import os
import re
import sys
import unittest

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
                       else os.environ.get("FLUFF_SOURCE_DIR",
                                           os.path.join(os.path.dirname(__file__), "..")))
DAEMON = os.path.join(ROOT, "daemon")

# The libraries at the bottom: each knows nothing of fluffd.
LIBRARIES = ("store", "e621", "vk", "model", "backbone", "config", "images", "blacklist", "work",
             "finetune")
# One folder per feature: they never include each other (see ALLOWED).
FEATURES = ("sync", "embed", "train", "predict", "watch", "vote", "login", "review")
# Bottom to top. A file may include its own folder and any folder of a lower rank.
RANK = {"common": 0, "library": 1, "core": 2, "services": 3, "jobs": 4, "feature": 5, "dbus": 6,
        "main": 7}

# The exceptions: (from folder, to folder) -> why that edge is allowed.
ALLOWED = {
    ("watch", "predict"):
        "a watch run is a prediction pass over the posts that are new since the last run: watch/ "
        "runs predict's search-and-score pass (PredictPass, Predictor) instead of a copy of it",
}

# Files outside dbus/ that call another service over D-Bus as a client -> why.
SD_BUS_CLIENTS = {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def group(rel):
    """The folder a daemon/ file belongs to, and its layer."""
    parts = rel.split(os.sep)
    if len(parts) == 1:
        return ("main", "main") if parts[0] == "main.c" else ("post", "library")
    top = parts[0]
    if top in LIBRARIES:
        return top, "library"
    if top in FEATURES:
        return top, "feature"
    if top in ("core", "services", "jobs", "dbus"):
        return top, top
    return top, None


def daemon_files():
    for d, _, files in os.walk(DAEMON):
        for f in files:
            if f.endswith((".c", ".h")):
                path = os.path.join(d, f)
                yield os.path.relpath(path, DAEMON), path


def library_headers():
    """Basename -> daemon-relative path of the libraries' headers (their
    folders are on the include path as themselves)."""
    m = {}
    for rel, _ in daemon_files():
        g, layer = group(rel)
        if layer == "library" and rel.endswith(".h"):
            m.setdefault(os.path.basename(rel), rel)
    return m


def resolve(rel, name, libs):
    """The daemon-relative path an include names, "common" for fluff/*.h,
    or None when it is none of ours (generated, system)."""
    if name.startswith("fluff/") and os.path.exists(os.path.join(ROOT, "include", name)):
        return "common"
    here = os.path.dirname(rel)
    for cand in (os.path.join(here, name), name):
        if os.path.exists(os.path.join(DAEMON, cand)):
            return os.path.normpath(cand)
    return libs.get(os.path.basename(name)) if "/" not in name else None


def violations():
    libs = library_headers()
    bad = []
    for rel, path in sorted(daemon_files()):
        src_folder, src_layer = group(rel)
        if src_layer is None:
            bad.append(f"daemon/{rel}: in no layer (add its folder to tests/test-layering.py)")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name in INCLUDE.findall(text):
            target = resolve(rel, name, libs)
            if target is None:
                if src_layer not in ("library",):
                    bad.append(f"daemon/{rel}: #include \"{name}\" names no file of Fluff")
                continue
            if target == "common":
                continue
            dst_folder, dst_layer = group(target)
            if dst_folder == src_folder:
                continue
            # The libraries' order among themselves is their CMake graph's
            # (model uses vk, store uses post); the rule here is that none
            # of them reaches into fluffd's middle.
            if src_layer == dst_layer == "library":
                continue
            if RANK[dst_layer] < RANK[src_layer]:
                continue
            if (src_folder, dst_folder) in ALLOWED:
                continue
            way = "sideways" if RANK[dst_layer] == RANK[src_layer] else "up"
            bad.append(f"daemon/{rel}: #include \"{name}\" runs {way} from {src_folder}/ "
                       f"({src_layer}) to {dst_folder}/ ({dst_layer})")
    return bad


def sd_bus_outside_dbus():
    bad = []
    for rel, path in sorted(daemon_files()):
        if not rel.endswith(".c") or rel.startswith("dbus" + os.sep) or rel in SD_BUS_CLIENTS:
            continue
        with open(path, encoding="utf-8") as f:
            if "sd_bus_" in f.read():
                bad.append(f"daemon/{rel}: calls sd-bus outside dbus/")
    return bad


class LayeringTest(unittest.TestCase):
    def test_includes_run_down(self):
        bad = violations()
        self.assertEqual(bad, [], "\n" + "\n".join(bad))

    def test_sd_bus_only_in_dbus(self):
        bad = sd_bus_outside_dbus()
        self.assertEqual(bad, [], "\n" + "\n".join(bad))

    def test_table_is_used(self):
        # An exception nobody needs any more is a hole for the next one.
        libs = library_headers()
        used = set()
        for rel, path in daemon_files():
            with open(path, encoding="utf-8") as f:
                for name in INCLUDE.findall(f.read()):
                    t = resolve(rel, name, libs)
                    if t and t != "common":
                        used.add((group(rel)[0], group(t)[0]))
        self.assertEqual(sorted(set(ALLOWED) - used), [])

    def test_middle_is_seen(self):
        # The check must see the layers it guards, or it passes on nothing.
        seen = {group(rel)[0] for rel, _ in daemon_files()}
        for folder in ("core", "services", "jobs", "dbus") + FEATURES:
            self.assertIn(folder, seen)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
