#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a small crafted npm-style package (package/… in a gzipped tar) for
the importer's hostile-input tests (issue 15):

    craft-pkg.py OUT.tgz CASE [--trailer BYTES]

CASE picks what is wrong with it; --trailer appends that many zero bytes after
the tar end marker inside the gzip stream (a gzip bomb costs CPU there).
CASE "slow" is the plain package behind a 1008 MiB file of zeros, inside the
reader's bounds but seconds of decompression: what Cancel must interrupt. It
is written as concatenated gzip members (which gzip readers join), so it
takes a fraction of a second and 1 MiB on disk."""
import base64
import gzip
import io
import json
import struct
import sys
import tarfile

MODEL_DIR = "package/dist/models/mobilenet_v2/"
SHARD = MODEL_DIR + "group1-shard1of1.min.js"
MODEL = MODEL_DIR + "model.min.js"


def shard_js(data):
    return 'var e={};e.exports="' + base64.b64encode(data).decode() + '";'


def model_js(topology, manifest):
    # the bundle's shape: an object literal in JavaScript, not JSON
    return "e.exports={modelTopology:" + json.dumps(topology) + ",weightsManifest:" + \
        json.dumps(manifest) + ",format:\"layers-model\"};"


ONE_WEIGHT = [{"paths": ["group1-shard1of1"],
               "weights": [{"name": "w", "shape": [1], "dtype": "float32"}]}]
INPUT_ONLY = {"model_config": {"config": {"layers": [
    {"class_name": "InputLayer", "name": "input_1",
     "config": {"batch_input_shape": [None, 224, 224, 3]}}]}}}


def files_for(case):
    pkg = {"name": "nsfwjs", "version": "4.4.0"}
    topo = INPUT_ONLY
    manifest = ONE_WEIGHT
    if case == "name-null":
        pkg = {"name": None, "version": "4.4.0"}
    elif case == "version-escape":
        pkg = {"name": "nsfwjs", "version": "4.4.0\u001b]0;owned\u0007"}
    elif case == "paths-string":
        manifest = [{"paths": "group1-shard1of1", "weights": ONE_WEIGHT[0]["weights"]}]
    elif case == "outputs-string":
        topo = json.loads(json.dumps(INPUT_ONLY))
        topo["model_config"]["config"]["output_layers"] = "input_1"
    elif case == "outputs-inner-string":
        topo = json.loads(json.dumps(INPUT_ONLY))
        topo["model_config"]["config"]["output_layers"] = ["input_1"]
    elif case == "topology-null":
        topo = None
    elif case not in ("plain", "slow"):
        raise SystemExit("unknown case " + case)
    return {
        "package/package.json": json.dumps(pkg).encode(),
        MODEL: model_js(topo, manifest).encode(),
        SHARD: shard_js(struct.pack("<f", 0.5)).encode(),
    }


SLOW_CHUNK = 16 << 20
SLOW_CHUNKS = 63


def write_slow(out, raw):
    junk = tarfile.TarInfo("package/junk.bin")
    junk.size = SLOW_CHUNK * SLOW_CHUNKS
    zeros = gzip.compress(b"\0" * SLOW_CHUNK, compresslevel=9)
    with open(out, "wb") as f:
        f.write(gzip.compress(junk.tobuf(format=tarfile.USTAR_FORMAT)))
        for _ in range(SLOW_CHUNKS):
            f.write(zeros)
        f.write(gzip.compress(raw, compresslevel=9))


def main():
    out, case = sys.argv[1], sys.argv[2]
    trailer = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--trailer" else 0
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files_for(case).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    if case == "slow":
        write_slow(out, raw.getvalue())
        return
    with gzip.open(out, "wb", compresslevel=9) as g:
        g.write(raw.getvalue())
        chunk = b"\0" * (1 << 20)
        while trailer > 0:
            g.write(chunk[:min(trailer, len(chunk))])
            trailer -= len(chunk)


main()
