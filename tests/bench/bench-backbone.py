#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Embedding throughput of the backbone (images/s, 224×224, batch 32): Fluff's
Vulkan forward pass (lavapipe unless FLUFF_VK_DEVICE says otherwise) against
PyTorch CPU running torchvision's MobileNetV2 with the same thread count,
measured in the same run; the C reference pass (one thread) is printed too.
Prints one JSON line per engine and the ratio. Not a ctest test.

    tests/bench/bench-backbone.py [--build build] [--threads 2] [--batch 32] [--seconds 10]

Needs the weights imported once (it does so into the build folder with
tools/fetch-backbone.sh + bb-tool import) and Debian's python3-torch and
python3-torchvision."""
import argparse
import json
import os
import subprocess
import sys
import time


def time_torch(batch, threads, seconds):
    import torch
    import torchvision

    torch.set_num_threads(threads)
    model = torchvision.models.mobilenet_v2().eval()  # random weights: speed does not depend on them
    best = None
    for fmt in (torch.contiguous_format, torch.channels_last):
        m = model.to(memory_format=fmt)
        x = torch.rand(batch, 3, 224, 224).contiguous(memory_format=fmt)
        with torch.no_grad():
            m(x)  # warm-up
            n, t0 = 0, time.perf_counter()
            while True:
                m(x)
                n += 1
                if time.perf_counter() - t0 >= seconds / 2:
                    break
            ips = n * batch / (time.perf_counter() - t0)
        res = {"engine": "pytorch", "version": torch.__version__, "layout": "channels_last" if fmt ==
               torch.channels_last else "NCHW", "threads": threads, "batch": batch, "batches": n,
               "images_per_s": round(ips, 3)}
        print(json.dumps(res), flush=True)
        if best is None or ips > best["images_per_s"]:
            best = res
    return best


def weights(build, source):
    path = os.path.join(build, "backbone-cache", "backbone.safetensors")
    if not os.path.exists(path):
        tgz = subprocess.run([os.path.join(source, "tools", "fetch-backbone.sh"),
                              os.path.join(build, "backbone-cache")], check=True, capture_output=True,
                             text=True).stdout.strip()
        subprocess.run([os.path.join(build, "tests", "bb-tool"), "import", tgz, path], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("FLUFF_BUILD_DIR", "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    source = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    w = weights(args.build, source)
    tool = os.path.join(args.build, "tests", "bb-tool")
    env = dict(os.environ, LP_NUM_THREADS=str(args.threads))

    ours = json.loads(subprocess.run([tool, "bench", w, "vulkan", str(args.batch), str(args.seconds)], env=env,
                                     check=True, capture_output=True, text=True).stdout)
    ours["threads"] = args.threads
    print(json.dumps(ours), flush=True)
    ref = json.loads(subprocess.run([tool, "bench", w, "ref", str(min(args.batch, 8)), str(args.seconds / 2)],
                                    check=True, capture_output=True, text=True).stdout)
    print(json.dumps(ref), flush=True)
    torch = time_torch(args.batch, args.threads, args.seconds)
    print(json.dumps({"ratio_vulkan_over_pytorch": round(ours["images_per_s"] / torch["images_per_s"], 3),
                      "ratio_c_reference_1thread_over_pytorch": round(ref["images_per_s"] / torch["images_per_s"], 3),
                      "goal": 1.5}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
