"""Latency of a call, and of MediaPipe's landmark model call alone (no crop, no mapping back).

    python -m benchmarks.peers.latency [--threads 1] [--repeats 200]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np


def time_call(fn: Callable[[], object], warmup: int = 20, repeats: int = 200) -> dict[str, float]:
    """Median, 90th-percentile and minimum wall time of ``fn()`` in milliseconds, after ``warmup``
    calls. The minimum is the least disturbed by other processes on a shared machine."""
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for k in range(repeats):
        t0 = time.perf_counter()
        fn()
        times[k] = time.perf_counter() - t0
    return {"median_ms": float(1e3 * np.median(times)), "p90_ms": float(1e3 * np.percentile(times, 90)),
            "min_ms": float(1e3 * times.min())}


def main() -> None:
    from edge_landmarks.data import load_ytf68
    from edge_landmarks.geometry import tight_box
    from edge_landmarks.paths import shared_data_dir

    from .mediapipe_facemesh import MediaPipeFaceMesh

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--data", default=str(shared_data_dir() / "ytf68"))
    args = ap.parse_args()
    face = load_ytf68(args.data)[0]
    peer = MediaPipeFaceMesh(threads=args.threads)
    x, _ = peer.prepare(face.load_image(), tight_box(face.landmarks))
    t = time_call(lambda: peer.model_call(x), args.warmup, args.repeats)
    print(f"mediapipe-facemesh model call, {args.threads} thread(s): "
          f"median {t['median_ms']:.3f} ms  p90 {t['p90_ms']:.3f} ms  min {t['min_ms']:.3f} ms  ({args.repeats} runs)")


if __name__ == "__main__":
    main()
