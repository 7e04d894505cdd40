"""Per-face latency of every installed backend x precision x thread count of a bundle: the model
call alone (the bundle's network on its normalised float input), the backend's call on a uint8
face crop (``run_crops``: the same network, with OpenVINO's preprocessing compiled into the
graph, with the others' ``to_network_input`` before it) and ``Runtime.detect`` end to end, side
by side with MediaPipe Face Mesh's model call (``face_landmark.tflite`` from the mediapipe
0.10.21 wheel, same TFLite interpreter).

All candidates run interleaved in one process, in short bursts, round after round, so machine
noise hits them alike and the ratios hold. Run ``python benchmarks/setup_peers.py`` first for
MediaPipe; without it the peer rows are skipped.

    python -m benchmarks.latency [--bundle DIR] [--rounds 30] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from edge_landmarks import Runtime
from edge_landmarks.backends import available_backends
from edge_landmarks.bundle import Bundle
from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.geometry import tight_box
from edge_landmarks.image import face_crop, to_network_input
from edge_landmarks.paths import shared_data_dir


def _candidates(bundle: Bundle, threads_list: list[int], image: np.ndarray, box: np.ndarray) -> dict:
    spec = bundle.input
    crop, _ = face_crop(image, box, spec.size, spec.enlarge)
    x = to_network_input([crop], spec.color, spec.mean, spec.std)
    out = {}
    installed = set(available_backends())
    for m in bundle.models:
        if m.backend not in installed:
            continue
        for t in threads_list:
            rt = Runtime(bundle, backend=m.backend, precision=m.precision, threads=t, score_threshold=0.0)
            size = m.size_bytes
            out[(m.backend, m.precision, t, "model")] = (lambda rt=rt: rt._model.run(x), size)
            out[(m.backend, m.precision, t, "crops")] = (lambda rt=rt: rt._model.run_crops([crop], spec), size)
            out[(m.backend, m.precision, t, "detect")] = (lambda rt=rt: rt.detect(image, [box]), size)
    try:
        from benchmarks.peers.mediapipe_facemesh import MediaPipeFaceMesh

        for t in threads_list:
            mp = MediaPipeFaceMesh(threads=t)
            xm, _ = mp.prepare(image, box)
            out[("mediapipe-facemesh", "fp16", t, "model")] = (lambda mp=mp, xm=xm: mp.model_call(xm), mp.model_path.stat().st_size)
    except Exception as e:  # the peer is optional: report and go on
        print(f"MediaPipe Face Mesh skipped: {e}")
    return out


def run(bundle_path=None, rounds: int = 30, burst: int = 20, threads_list: list[int] | None = None,
        extra: dict | None = None) -> list[dict]:
    """Rows of median / p90 ms per candidate. ``extra``: more candidates to interleave, keyed
    ``(system, precision, threads, measure)`` -> ``(callable, size in bytes)`` (e.g. dlib's predictor)."""
    bundle = Bundle.load(bundle_path)
    _, val = train_val(load_ytf68(shared_data_dir() / "ytf68"))
    image, box = val[0].load_image(), tight_box(val[0].landmarks)
    threads_list = threads_list or sorted({1, os.cpu_count() or 1})
    cands = {**_candidates(bundle, threads_list, image, box), **(extra or {})}
    times = {k: [] for k in cands}
    for fn, _ in cands.values():
        for _ in range(10):
            fn()
    for _ in range(rounds):
        for k, (fn, _) in cands.items():
            for _ in range(burst):
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    rows = []
    for (backend, precision, threads, what), ts in times.items():
        ms = np.asarray(ts) * 1e3
        rows.append({"system": backend, "precision": precision, "threads": threads, "measure": what,
                     "median_ms": round(float(np.median(ms)), 4), "p90_ms": round(float(np.percentile(ms, 90)), 4),
                     "size_kb": round(cands[(backend, precision, threads, what)][1] / 1024, 1)})
    return rows


def ratios(rows: list[dict]) -> dict:
    """Ours against MediaPipe's model call at the same thread count, and detect against our model
    call and our call on a crop."""
    out = {}
    mp = {r["threads"]: r["median_ms"] for r in rows if r["system"] == "mediapipe-facemesh"}
    model = {(r["system"], r["precision"], r["threads"]): r["median_ms"] for r in rows if r["measure"] == "model"}
    crops = {(r["system"], r["precision"], r["threads"]): r["median_ms"] for r in rows if r["measure"] == "crops"}
    for r in rows:
        if r["system"] == "mediapipe-facemesh":
            continue
        key = f"{r['system']}/{r['precision']}/{r['threads']}t/{r['measure']}"
        if r["threads"] in mp:
            out[key + " vs mediapipe model"] = round(r["median_ms"] / mp[r["threads"]], 3)
        if r["measure"] == "detect":
            out[key + " vs own model call"] = round(r["median_ms"] / model[(r["system"], r["precision"], r["threads"])], 3)
            out[key + " vs own crops call"] = round(r["median_ms"] / crops[(r["system"], r["precision"], r["threads"])], 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="bundle folder (default: the shipped one)")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--threads", type=int, nargs="*", help="thread counts (default: 1 and all cores)")
    p.add_argument("--json", help="write rows and ratios here")
    a = p.parse_args()
    rows = run(a.bundle, a.rounds, threads_list=a.threads)
    print(f"{'system':20s} {'prec':5s} {'thr':>3s} {'measure':7s} {'median ms':>9s} {'p90 ms':>8s} {'size kB':>8s}")
    for r in sorted(rows, key=lambda r: (r["threads"], r["measure"], r["median_ms"])):
        print(f"{r['system']:20s} {r['precision']:5s} {r['threads']:3d} {r['measure']:7s} {r['median_ms']:9.3f} {r['p90_ms']:8.3f} {r['size_kb']:8.1f}")
    rat = ratios(rows)
    for k, v in rat.items():
        print(f"{k:60s} {v:.2f}x")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "ratios": rat}, indent=1))


if __name__ == "__main__":
    main()
