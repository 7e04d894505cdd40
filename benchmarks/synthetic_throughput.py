"""Throughput of the synthetic face generator (``export.synthetic``), images per second.

Renders ``--n`` random scenes in batches after a warm-up batch (GL context, face model and
shaders are created once per process and not timed), several rounds, and prints the median
and best rate. Every stage is included: scene sampling, albedo painting, rasterizing,
read-back, background, occluders, camera effects and labels.

    python -m benchmarks.synthetic_throughput [--size 160] [--n 256] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from export.synthetic import render_batch
from export.synthetic.generate import MAX_BATCH


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--n", type=int, default=256, help="images per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    render_batch(list(range(MAX_BATCH)), args.size)  # warm-up: context, model, shaders
    rates = []
    for r in range(args.rounds):
        seeds = list(range(10_000 * (r + 1), 10_000 * (r + 1) + args.n))
        t = time.perf_counter()
        render_batch(seeds, args.size)
        rates.append(args.n / (time.perf_counter() - t))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.size}x{args.size}: {np.median(rates):.1f} images/s median, {max(rates):.1f} best "
          f"({args.rounds} rounds of {args.n}; {os.cpu_count()} CPUs, load average {load:.1f})")


if __name__ == "__main__":
    main()
