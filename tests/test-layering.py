#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keeps fluffd in layers (daemon/README.md): reads every #include under
daemon/ and fails on one that runs up a layer or sideways between two feature
folders, unless the table ALLOWED below names that edge with its reason. It
also fails when sd-bus calls (`sd_bus_`) appear in a .c file of daemon/
outside dbus/, unless SD_BUS_CLIENTS names the file, and when a retired way
of passing an error message (RETIRED) comes back in daemon/, common/,
include/ or tests/.

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

# The ways of carrying an error message up that the common Error
# (include/fluff/error.h) replaced -> what to use instead. One way, so a
# message reaches the user the same from every library.
RETIRED = {
    r"\bchar\s*\*\*\s*ret_error\b": "a malloc'd message out-parameter: take an Error * (NULL when unread)",
    r"\bImportError\b": "the importer's own message type: use Error",
    r"\bimport_error\s*\(": "the importer's setter: use error_setf()",
    r"\bmodel_set_error\s*\(": "the model library's setter: use error_setf()",
    r"\bset_error\s*\(": "a file's own malloc'd-message setter: an Error field and error_setf()",
    r"\bstore_(set_)?error\s*\(": "the store's own last message: pass an Error * to the store's call",
    r"\breasonf\s*\(|\bchar\s*\*\*\s*reason\b": "the config parsers' malloc'd reason: an Error *",
}

# Files of daemon/ whose structs hold the whole Context -> why. Every other
# part holds the pointers it uses (predict's and watch's jobs a Predictor:
# store, work pool, site client, config, counts, events, backbone, taste
# model; a vote a Voter: store, site client and site, config, session,
# counts, events, images folder, outbox; the sync job its store, site
# client, config, session, counts, events, work pool and images folder;
# Login its site client, site, session and events; the train job the loop,
# store, config, events, work pool and images folder; Embed its store, work
# pool, counts, events and images folder); this table only shrinks.
CONTEXT_HOLDERS = {
    "main.c": "builds the core and owns it (Fluffd), then every layer above from it",
    "dbus/server.h": "BusFeatures: the API reaches every feature, whose entry points take the core (the "
                     "constructors predictor_make(), voter_make(), sync_job_create(), and the short calls "
                     "such as watch_add()), and its properties read the core's counts, session and config",
}
HOLDS_CONTEXT = re.compile(r"^\s+Context\s*\*\s*\w+\s*;", re.M)

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


def retired_errors():
    bad = []
    for top in ("daemon", "common", "include", "tests", "fuzz"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(d, f)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                for pattern, instead in RETIRED.items():
                    for m in re.finditer(pattern, text):
                        line = text.count("\n", 0, m.start()) + 1
                        bad.append(f"{os.path.relpath(path, ROOT)}:{line}: {m.group(0)!r}: {instead}")
    return bad


def context_holders():
    found = set()
    for rel, path in daemon_files():
        with open(path, encoding="utf-8") as f:
            if HOLDS_CONTEXT.search(f.read()):
                found.add(rel.replace(os.sep, "/"))
    return found


class LayeringTest(unittest.TestCase):
    def test_includes_run_down(self):
        bad = violations()
        self.assertEqual(bad, [], "\n" + "\n".join(bad))

    def test_sd_bus_only_in_dbus(self):
        bad = sd_bus_outside_dbus()
        self.assertEqual(bad, [], "\n" + "\n".join(bad))

    def test_one_error_mechanism(self):
        bad = retired_errors()
        self.assertEqual(bad, [], "\n" + "\n".join(bad))

    def test_retired_patterns_match(self):
        # The patterns must catch what they retire, or the check passes on nothing.
        samples = ("int f(char **ret_error);", "ImportError e = {};", "return import_error(e, r, \"x\");",
                   "model_set_error(ret_error, \"x\");", "return set_error(w, r, \"x\");",
                   "log_debug(\"%s\", store_error(s));", "static int parse_x(Config *c, const char *v, char **reason)")
        for sample, pattern in zip(samples, RETIRED):
            self.assertRegex(sample, pattern)
        self.assertNotRegex("int method_x(sd_bus_message *m, void *u, sd_bus_error *ret_error);",
                            "|".join(RETIRED))
        self.assertNotRegex("return sync_finish_store_error(s, r, &db, \"x\");", "|".join(RETIRED))

    def test_features_hold_what_they_need(self):
        found = context_holders()
        self.assertEqual(sorted(found - set(CONTEXT_HOLDERS)), [],
                         "a struct holds the whole Context: give it the pointers it uses")
        self.assertEqual(sorted(set(CONTEXT_HOLDERS) - found), [],
                         "narrowed: drop it from CONTEXT_HOLDERS")
        self.assertRegex("        Context *ctx; /* borrowed */", HOLDS_CONTEXT)

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
