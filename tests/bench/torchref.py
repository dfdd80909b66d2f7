# SPDX-License-Identifier: MIT
"""What the PyTorch references of the benchmarks share: one thread count,
the faster of NCHW and channels_last picked once, and a timed loop after a
warm-up step."""
import time


def layout_name(torch, fmt):
    return "channels_last" if fmt == torch.channels_last else "NCHW"


def faster_layout(torch, images_per_s):
    """The memory format in which images_per_s(fmt) is highest."""
    best = None
    for fmt in (torch.contiguous_format, torch.channels_last):
        ips = images_per_s(fmt)
        if best is None or ips > best[0]:
            best = (ips, fmt)
    return best[1]


def timed(step, seconds):
    """(steps, seconds taken): step() once to warm up, then as often as fits
    in seconds (at least once)."""
    step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        if time.perf_counter() - t0 >= seconds:
            break
    return n, time.perf_counter() - t0
