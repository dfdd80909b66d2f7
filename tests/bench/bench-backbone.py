#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Embedding throughput of the backbone (images/s, 224×224, batch 32): Fluff's
Vulkan forward pass (lavapipe unless FLUFF_VK_DEVICE says otherwise) against
PyTorch CPU running torchvision's MobileNetV2 with the same thread count,
measured in the same run; the C reference pass (one thread) is printed too.
Prints one JSON line per measurement and the ratios. Not a ctest test.

The machines this runs on are shared, so throughput moves by 2× from one
second to the next: Vulkan and PyTorch are measured in alternating rounds and
the median of the per-round ratios is the result.

    tests/bench/bench-backbone.py [--build build] [--threads 2] [--batch 32] [--seconds 6] [--rounds 3]

Needs the weights imported once (it does so into the build folder with
tools/fetch-backbone.sh + bb-tool import) and Debian's python3-torch and
python3-torchvision."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


class Torch:
    """torchvision's MobileNetV2 (random weights: speed does not depend on
    them), in the faster of NCHW and channels_last, picked once."""

    def __init__(self, batch, threads):
        import torch
        import torchvision

        self.torch = torch
        torch.set_num_threads(threads)
        self.batch, self.threads = batch, threads
        self.model = torchvision.models.mobilenet_v2().eval()
        best = None
        for fmt in (torch.contiguous_format, torch.channels_last):
            self.fmt = fmt
            ips = self.run(2.0)["images_per_s"]
            if best is None or ips > best[0]:
                best = (ips, fmt)
        self.fmt = best[1]

    def run(self, seconds):
        torch = self.torch
        m = self.model.to(memory_format=self.fmt)
        x = torch.rand(self.batch, 3, 224, 224).contiguous(memory_format=self.fmt)
        with torch.no_grad():
            m(x)  # warm-up
            n, t0 = 0, time.perf_counter()
            while True:
                m(x)
                n += 1
                if time.perf_counter() - t0 >= seconds:
                    break
            ips = n * self.batch / (time.perf_counter() - t0)
        return {"engine": "pytorch", "version": torch.__version__,
                "layout": "channels_last" if self.fmt == torch.channels_last else "NCHW",
                "threads": self.threads, "batch": self.batch, "batches": n, "images_per_s": round(ips, 3)}


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
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    source = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    w = weights(args.build, source)
    tool = os.path.join(args.build, "tests", "bb-tool")
    env = dict(os.environ, LP_NUM_THREADS=str(args.threads))

    torch = Torch(args.batch, args.threads)
    ratios = []
    for rnd in range(args.rounds):
        ours = json.loads(subprocess.run([tool, "bench", w, "vulkan", str(args.batch), str(args.seconds)], env=env,
                                         check=True, capture_output=True, text=True).stdout)
        ours.update(threads=args.threads, round=rnd)
        print(json.dumps(ours), flush=True)
        ref = torch.run(args.seconds)
        ref["round"] = rnd
        print(json.dumps(ref), flush=True)
        ratios.append(ours["images_per_s"] / ref["images_per_s"])
    cref = json.loads(subprocess.run([tool, "bench", w, "ref", "8", str(args.seconds)], check=True,
                                     capture_output=True, text=True).stdout)
    print(json.dumps(cref), flush=True)
    tref = torch.run(args.seconds)
    print(json.dumps(tref), flush=True)
    print(json.dumps({"ratio_vulkan_over_pytorch_median": round(statistics.median(ratios), 3),
                      "ratios": [round(r, 3) for r in ratios],
                      "ratio_c_reference_1thread_over_pytorch": round(cref["images_per_s"] / tref["images_per_s"], 3),
                      "goal": 1.5}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
