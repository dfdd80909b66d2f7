#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Convolution and depthwise convolution at MobileNetV2 layer shapes (batch 32,
224 input): PyTorch CPU against fluff-bench's conv cases, measured in the same
run with the same thread count. One JSON line per case; `ratio` is our
throughput over torch's (> 1: we are faster). Not a ctest test.

    LP_NUM_THREADS=2 tests/bench/bench-conv.py [--fluff-bench build/tests/bench/fluff-bench]
                                               [--threads 2] [--batch 32] [--only NAME]

Torch runs each case in NCHW and channels_last and keeps the faster, so the
reference is its best, not a layout it was never tuned for."""
import argparse
import json
import os
import subprocess
import sys
import time

# fluff-bench case, name, in-channels, out-channels, input size, kernel,
# stride, depthwise, act (tests/bench/bench-conv.c has the same table).
# Padding is TensorFlow "same": stride 2 pads 0 before and 1 after at even
# sizes, which is what the nsfwjs MobileNetV2 does.
CASES = [
    ("conv_stem", "conv3x3s2-3-32-224", 3, 32, 224, 3, 2, False, "relu6"),
    ("conv_pw_expand", "pw-24-144-56", 24, 144, 56, 1, 1, False, "relu6"),
    ("conv_dw_s1", "dw3x3s1-144-56", 144, 144, 56, 3, 1, True, "relu6"),
    ("conv_dw_s2", "dw3x3s2-144-56", 144, 144, 56, 3, 2, True, "relu6"),
    ("conv_pw_project", "pw-576-96-14", 576, 96, 14, 1, 1, False, "none"),
    ("conv_dw_960", "dw3x3s1-960-7", 960, 960, 7, 3, 1, True, "relu6"),
    # backward (data + weight + bias gradients) at fine-tuning shapes
    ("conv_dw_960_bwd", "bwd-dw3x3s1-960-7", 960, 960, 7, 3, 1, True, "none"),
    ("conv_pw_project_bwd", "bwd-pw-576-96-14", 576, 96, 14, 1, 1, False, "none"),
]


def same_pad(size, k, s):
    out = (size + s - 1) // s
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


def flops(batch, cin, cout, size, k, s, dw, backward=False):
    _, _, out = same_pad(size, k, s)
    per_out = k * k * (1 if dw else cin)
    # the data and the weight gradient each cost a forward
    return 2.0 * batch * out * out * cout * per_out * (2 if backward else 1)


def time_torch(case, batch, threads, min_time=1.0):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    case_id, name, cin, cout, size, k, s, dw, act = case
    backward = case_id.endswith("_bwd")
    before, after, _ = same_pad(size, k, s)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, cin, size, size, generator=g)
    # Padding once outside the timed loop: torch has no asymmetric conv padding,
    # so this only makes torch's job easier.
    x = F.pad(x, (before, after, before, after))
    w = torch.randn(cout, 1 if dw else cin, k, k, generator=g) * 0.1
    b = torch.randn(cout, generator=g)
    best = None
    for fmt in (torch.contiguous_format, torch.channels_last):
        xf = x.contiguous(memory_format=fmt)
        wf = w.contiguous(memory_format=fmt)

        def run():
            y = F.conv2d(xf, wf, b, stride=s, groups=cin if dw else 1)
            if act == "relu6":
                y = F.hardtanh_(y, 0.0, 6.0)
            return y

        if backward:
            xg = xf.detach().requires_grad_()
            wg = wf.detach().requires_grad_()
            bg = b.detach().requires_grad_()
            yb = F.conv2d(xg, wg, bg, stride=s, groups=cin if dw else 1)
            gy = torch.randn(yb.shape, generator=g).contiguous(memory_format=fmt)

            def run():
                return torch.autograd.grad(yb, (xg, wg, bg), gy, retain_graph=True)

        with torch.set_grad_enabled(backward):
            run()
            n, t0 = 0, time.perf_counter()
            while True:
                run()
                n += 1
                el = time.perf_counter() - t0
                if el >= min_time and n >= 3:
                    break
        ms = el / n * 1e3
        if best is None or ms < best[0]:
            best = (ms, "nchw" if fmt is torch.contiguous_format else "nhwc")
    return best


def run_fluff(exe, batch, cases):
    env = dict(os.environ, FLUFF_CONV_BATCH=str(batch))
    r = subprocess.run([exe] + [c[0] for c in cases], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"{exe} failed with {r.returncode}")
    out = {}
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line)
            out[d["case"]] = d
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fluff-bench", default=os.path.join(os.environ.get("FLUFF_BUILD_DIR", "build"), "tests", "bench", "fluff-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--only")
    ap.add_argument("--torch-only", action="store_true")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure each case this many times, interleaved, and keep each side's best "
                         "(the usual remedy for a machine shared with other work)")
    a = ap.parse_args()
    os.environ.setdefault("LP_NUM_THREADS", str(a.threads))

    cases = [c for c in CASES if not a.only or a.only in c[0] or a.only in c[1]]
    for c in cases:
        # Interleaved, one case at a time: on a shared machine both sides then
        # see the same background load; each keeps its best of --repeat.
        ours, tms, tfmt, loads = {}, None, None, []
        for _ in range(max(a.repeat, 1)):
            loads.append(os.getloadavg()[0])
            if not a.torch_only:
                o = run_fluff(a.fluff_bench, a.batch, [c]).get("conv/" + c[1])
                if o and ("conv/" + c[1] not in ours or o["ms"] < ours["conv/" + c[1]]["ms"]):
                    ours["conv/" + c[1]] = o
            t, fmt = time_torch(c, a.batch, a.threads)
            if tms is None or t < tms:
                tms, tfmt = t, fmt
        fl = flops(a.batch, *c[2:8], backward=c[0].endswith("_bwd"))
        line = {"case": "conv/" + c[1], "batch": a.batch, "threads": a.threads,
                "lp_num_threads": os.environ["LP_NUM_THREADS"],
                "repeat": max(a.repeat, 1), "load_avg_1m": [round(x, 2) for x in loads],
                "torch_ms": round(tms, 3), "torch_gflops": round(fl / tms / 1e6, 2), "torch_layout": tfmt}
        o = ours.get("conv/" + c[1])
        if o:
            line["ms"] = o["ms"]
            line["gflops"] = round(fl / o["ms"] / 1e6, 2)
            line["ratio"] = round(tms / o["ms"], 3)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
