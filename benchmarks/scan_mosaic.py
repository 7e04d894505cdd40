"""How well ``Runtime(detector="scan")`` finds several faces: mosaics of three validation faces
(each image scaled to 180 px wide, 30 px apart, on a flat background of a random grey), run
through the shipped bundle. A face counts as found when some returned face has an NME under
15 % against it; a returned face near no ground truth counts as false.

    python -m benchmarks.scan_mosaic [--images 8] [--seed 0] [--backend onnxruntime]
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from edge_landmarks import Runtime
from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.metrics import nme_per_face
from edge_landmarks.paths import shared_data_dir

FOUND_NME = 0.15


def mosaic(samples, rng: np.random.Generator, width: int = 180) -> tuple[np.ndarray, list[np.ndarray]]:
    """(image, ground-truth landmarks per face) of three faces side by side."""
    canvas = np.full((360, 640, 3), int(rng.integers(40, 200)), np.uint8)
    truths = []
    for x, k in zip((20, 230, 440), rng.choice(len(samples), 3, replace=False)):
        s = samples[int(k)]
        im = s.load_image()
        f = width / im.shape[1]
        im = cv2.resize(im, (width, int(im.shape[0] * f)))[:300]
        canvas[40:40 + im.shape[0], x:x + width] = im
        truths.append(s.landmarks * f + [x, 40])
    return canvas, truths


def matches(faces, truths: list[np.ndarray]) -> np.ndarray:
    """(F, T) bool: returned face f lies on ground-truth face t (NME under ``FOUND_NME``)."""
    return np.array([[nme_per_face(f.landmarks[None], g[None])[0] < FOUND_NME for g in truths] for f in faces],
                    dtype=bool).reshape(-1, len(truths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--data", default=str(shared_data_dir() / "ytf68"))
    a = ap.parse_args()
    _, val = train_val(load_ytf68(a.data))
    rt = Runtime(backend=a.backend, precision=a.precision, detector="scan")
    rng = np.random.default_rng(a.seed)
    found = false = total = 0
    seconds = []
    for _ in range(a.images):
        image, truths = mosaic(val, rng)
        t0 = time.perf_counter()
        faces = rt.detect(image)
        seconds.append(time.perf_counter() - t0)
        near = matches(faces, truths)
        total += len(truths)
        found += int(near.any(0).sum())
        false += int((~near.any(1)).sum())
    print(f"{a.images} mosaics, {total} faces ({rt.backend} {rt.precision}): found {found} ({100 * found / total:.0f} %), "
          f"false faces {false} ({false / a.images:.2f} per image), {np.median(seconds):.2f} s per image (median)")


if __name__ == "__main__":
    main()
