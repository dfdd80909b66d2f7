#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Training throughput of the fine-tune step (images/s, batch 32): Fluff's
Vulkan step (build/tests/fluff-bench-ft-step: the backbone's top 1x1 conv
7x7x320 -> 1280 with ReLU6, mean and max pooling, the gradients back through
them and one AdamW step, activations uploaded and pooled features downloaded
every step, as daemon/model/finetune.c runs it) against PyTorch CPU on the
same layers with the same thread count, in alternating rounds; prints one
JSON line per measurement and the median of the per-round ratios. The
machines this runs on are shared, so only ratios from one run mean anything.
Not a ctest test.

    tests/bench/bench-ft-step.py [--build build] [--threads 2] [--batch 32] [--seconds 4] [--rounds 3]

Needs Debian's python3-torch."""
import argparse
import json
import os
import statistics
import subprocess
import sys

from torchref import faster_layout, layout_name, timed


class Torch:
    def __init__(self, batch, threads):
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        self.batch = batch
        self.conv = torch.nn.Conv2d(320, 1280, 1)
        self.opt = torch.optim.AdamW(self.conv.parameters())
        self.fmt = faster_layout(torch, self._probe)

    def _probe(self, fmt):
        self.fmt = fmt
        return self.run(1.5)["images_per_s"]

    def step(self, x, gmean, gmax):
        y = self.torch.nn.functional.relu6(self.conv(x))
        mean = y.mean(dim=(2, 3))
        mx = y.amax(dim=(2, 3))
        self.opt.zero_grad()
        # the same gradients every step, as the Fluff side gets
        (mean * gmean + mx * gmax).sum().backward()
        self.opt.step()

    def run(self, seconds):
        torch = self.torch
        self.conv = self.conv.to(memory_format=self.fmt)
        x = (torch.rand(self.batch, 320, 7, 7) * 4 - 2).contiguous(memory_format=self.fmt)
        gmean = torch.rand(self.batch, 1280) * 0.01
        gmax = torch.rand(self.batch, 1280) * 0.01
        n, took = timed(lambda: self.step(x, gmean, gmax), seconds)
        return {"engine": "pytorch", "version": torch.__version__, "layout": layout_name(torch, self.fmt),
                "batch": self.batch, "steps": n, "images_per_s": round(n * self.batch / took, 2)}


def fluff(build, batch, seconds, threads):
    exe = os.path.join(build, "tests", "fluff-bench-ft-step")
    env = dict(os.environ, LP_NUM_THREADS=str(threads))
    out = subprocess.run([exe, str(batch), str(seconds), "1"], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    try:
        torch = Torch(a.batch, a.threads)
    except ImportError:
        print("python3-torch is missing: no reference, nothing measured", file=sys.stderr)
        return 77
    ratios = []
    for _ in range(a.rounds):
        t = torch.run(a.seconds)
        f = fluff(a.build, a.batch, a.seconds, a.threads)
        print(json.dumps(t))
        print(json.dumps(f))
        ratios.append(f["images_per_s"] / t["images_per_s"])
    print(json.dumps({"fine-tune step, fluff / pytorch": round(statistics.median(ratios), 3),
                      "rounds": [round(r, 3) for r in ratios]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
