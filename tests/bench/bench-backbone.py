#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Embedding throughput of the backbone (images/s, 224×224, batch 32): Fluff's
Vulkan forward pass (lavapipe unless FLUFF_VK_DEVICE says otherwise) against
the CPU engines a user would otherwise run, with the same thread count and
measured in the same run:
- ONNX Runtime (onnxruntime-node, fetched by tools/fetch-onnxruntime.sh)
  running torchvision's MobileNetV2 exported with torch.onnx.export (opset 13):
  the anchor, the best CPU engine measured on this machine kind;
- PyTorch CPU running the same torchvision model.
The C reference pass (one thread) is printed too. Prints one JSON line per
measurement and the ratios. Not a ctest test.

The machines this runs on are shared, so throughput moves by 2× from one
second to the next: the engines are measured in alternating rounds and the
median of the per-round ratios is the result.

    tests/bench/bench-backbone.py [--build build] [--threads 2] [--batch 32] [--seconds 6] [--rounds 3]

Needs the weights imported once (it does so into the build folder with
tools/fetch-backbone.sh + bb-tool import) and Debian's python3-torch and
python3-torchvision; ONNX Runtime is skipped, with a message, without npm
and node."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

from torchref import faster_layout, layout_name, timed


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
        self.fmt = faster_layout(torch, self._probe)

    def _probe(self, fmt):
        self.fmt = fmt
        return self.run(2.0)["images_per_s"]

    def run(self, seconds):
        torch = self.torch
        m = self.model.to(memory_format=self.fmt)
        x = torch.rand(self.batch, 3, 224, 224).contiguous(memory_format=self.fmt)
        with torch.no_grad():
            n, took = timed(lambda: m(x), seconds)
        return {"engine": "pytorch", "version": torch.__version__, "layout": layout_name(torch, self.fmt),
                "threads": self.threads, "batch": self.batch, "batches": n,
                "images_per_s": round(n * self.batch / took, 3)}


class Ort:
    """ONNX Runtime in a Node process kept alive across rounds (bench-ort.js)."""

    def __init__(self, build, source, batch, threads):
        import torch
        import torchvision

        self.proc = None
        model = os.path.join(build, "backbone-cache", "mobilenet_v2-b%d.onnx" % batch)
        if not os.path.exists(model):
            os.makedirs(os.path.dirname(model), exist_ok=True)
            tmp = model + ".tmp"
            torch.onnx.export(torchvision.models.mobilenet_v2().eval(), torch.rand(batch, 3, 224, 224), tmp,
                              opset_version=13, input_names=["input"], output_names=["logits"])
            os.replace(tmp, model)
        fetched = subprocess.run([os.path.join(source, "tools", "fetch-onnxruntime.sh"),
                                  os.path.join(build, "onnxruntime-cache")], capture_output=True, text=True)
        if fetched.returncode != 0:
            raise RuntimeError(fetched.stderr.strip())
        env = dict(os.environ, NODE_PATH=os.path.join(fetched.stdout.strip(), "node_modules"))
        self.proc = subprocess.Popen(["node", os.path.join(source, "tests", "bench", "bench-ort.js"), model,
                                      str(batch), str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True)
        if not json.loads(self.proc.stdout.readline() or "{}").get("ready"):
            raise RuntimeError("bench-ort.js did not start")

    def run(self, seconds):
        self.proc.stdin.write("%g\n" % seconds)
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait()


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
    ort = None
    if shutil.which("npm") and shutil.which("node"):
        try:
            ort = Ort(args.build, source, args.batch, args.threads)
        except (RuntimeError, OSError, ValueError) as e:
            print("bench-backbone: no ONNX Runtime anchor: %s" % e, file=sys.stderr)
    else:
        print("bench-backbone: npm or node is not installed: no ONNX Runtime anchor", file=sys.stderr)
    ratios, ort_ratios = [], []
    for rnd in range(args.rounds):
        ours = json.loads(subprocess.run([tool, "bench", w, "vulkan", str(args.batch), str(args.seconds)], env=env,
                                         check=True, capture_output=True, text=True).stdout)
        ours.update(threads=args.threads, round=rnd)
        print(json.dumps(ours), flush=True)
        ref = torch.run(args.seconds)
        ref["round"] = rnd
        print(json.dumps(ref), flush=True)
        ratios.append(ours["images_per_s"] / ref["images_per_s"])
        if ort:
            anchor = ort.run(args.seconds)
            anchor["round"] = rnd
            print(json.dumps(anchor), flush=True)
            ort_ratios.append(ours["images_per_s"] / anchor["images_per_s"])
    if ort:
        ort.close()
    cref = json.loads(subprocess.run([tool, "bench", w, "ref", "8", str(args.seconds)], check=True,
                                     capture_output=True, text=True).stdout)
    print(json.dumps(cref), flush=True)
    tref = torch.run(args.seconds)
    print(json.dumps(tref), flush=True)
    summary = {"ratio_vulkan_over_pytorch_median": round(statistics.median(ratios), 3),
               "ratios": [round(r, 3) for r in ratios],
               "ratio_c_reference_1thread_over_pytorch": round(cref["images_per_s"] / tref["images_per_s"], 3),
               "goal_over_pytorch": 3.0}
    if ort_ratios:
        summary.update(ratio_vulkan_over_onnxruntime_median=round(statistics.median(ort_ratios), 3),
                       ratios_onnxruntime=[round(r, 3) for r in ort_ratios], goal_over_onnxruntime=0.25)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
