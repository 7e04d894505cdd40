"""Why ``detect`` costs more over the model call with several threads than with one: the model
call of every installed backend x precision, measured back to back and after a gap of busy
Python work (what ``detect`` does between two calls: crop, blob, float tail), 1 thread and all.

TFLite's XNNPACK delegate creates its runtime with ``XNN_FLAG_YIELD_WORKERS``: after each
inference its worker threads stop spinning and sleep, so the next call first wakes them
(ONNX Runtime and OpenVINO keep spinning for a while). Back to back, the workers are barely
asleep; after a gap, waking them is part of the call. The table shows the gap's price per
backend on this machine (docs/DEPLOYED.md, Latency).

    python -m benchmarks.thread_wake [--bundle DIR] [--gaps 0 20 50 100 200] [--calls 300]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from edge_landmarks.backends import available_backends, get_backend
from edge_landmarks.bundle import Bundle


def busy(microseconds: float) -> None:
    """Keep this thread busy (like Python pre- and post-processing) for ``microseconds``."""
    end = time.perf_counter() + microseconds * 1e-6
    while time.perf_counter() < end:
        pass


def call_times(run, x: np.ndarray, gap_us: float, calls: int, warmup: int = 50) -> list[float]:
    """Seconds per ``run(x)``, each call after ``gap_us`` of busy work."""
    for _ in range(warmup):
        run(x)
    out = []
    for _ in range(calls):
        if gap_us:
            busy(gap_us)
        t = time.perf_counter()
        run(x)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="bundle folder (default: the shipped one)")
    ap.add_argument("--gaps", type=float, nargs="+", default=[0, 20, 50, 100, 200], help="busy gaps in microseconds")
    ap.add_argument("--calls", type=int, default=300, help="timed calls per gap")
    args = ap.parse_args()
    bundle = Bundle.load(args.bundle)
    size = bundle.input.size
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    installed = set(available_backends())
    threads = sorted({1, os.cpu_count() or 1})
    print(f"median model call, ms, after a busy gap of (microseconds): {' '.join(f'{g:g}' for g in args.gaps)}")
    print(f"{'backend':12s} {'prec':5s} {'thr':>3s} " + " ".join(f"{f'gap {g:g}':>9s}" for g in args.gaps) + "  last / first")
    for m in bundle.models:
        if m.backend not in installed:
            continue
        for t in threads:
            model = get_backend(m.backend)(m.path, t)
            med = [statistics.median(call_times(model.run, x, g, args.calls)) * 1e3 for g in args.gaps]
            model.close()
            print(f"{m.backend:12s} {m.precision:5s} {t:3d} " + " ".join(f"{v:9.3f}" for v in med) + f"  {med[-1] / med[0]:.2f}x")


if __name__ == "__main__":
    main()
