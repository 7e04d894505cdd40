"""The seeded synthetic test set, and writing synthetic faces as a ytf68-format folder.

A written folder holds ``images/*.jpg`` and ``landmarks.csv`` (header ``image,x0,y0,...,x67,y67``;
all 68 ibug points, hidden ones included, 0-based pixels), so ``edge-landmarks eval --data
FOLDER`` runs on it, plus ``ground_truth.npz`` with what that format cannot hold (one row per
image, in CSV order):

- ``image`` (n,) file names; ``seed`` (n,) scene seeds
- ``K`` (n, 3, 3) px; ``rotation`` (n, 3, 3); ``translation`` (n, 3) mm;
  ``euler`` (n, 3) yaw, pitch, roll in degrees (``euler_yaw_pitch_roll``)
- ``box`` (n, 4) tight box of the 68 points, px
- per layout L in (ibug68, wflw98): ``L_2d`` (n, N, 2) px, ``L_3d`` (n, N, 3) mm camera frame,
  ``L_self_visible``, ``L_unoccluded``, ``L_in_frame``, ``L_visible`` (n, N) bool
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .generate import iter_samples
from .sample import SyntheticSample

TEST_SET_SEED = 20250
TEST_SET_SIZE = 1000
LAYOUTS = ("ibug68", "wflw98")


def scene_seeds(n: int, seed: int = TEST_SET_SEED) -> np.ndarray:
    """(n,) int64 scene seeds of a seeded set; the first k seeds do not depend on n."""
    if n < 1:
        raise ValueError(f"need n >= 1 samples, got {n}")
    return np.random.SeedSequence(seed).generate_state(n, np.uint32).astype(np.int64)


def synthetic_test_set(n: int = TEST_SET_SIZE, seed: int = TEST_SET_SEED, size: int = 160) -> Iterator[SyntheticSample]:
    """The synthetic test set: ``n`` samples rendered from ``scene_seeds(n, seed)``, in order.

    Deterministic: the same arguments give byte-identical images and identical labels, and a
    smaller ``n`` gives a prefix of a larger one."""
    return iter_samples((int(s) for s in scene_seeds(n, seed)), size)


def write_dataset(out_dir: str | Path, n: int, seed: int = TEST_SET_SEED, size: int = 160,
                  jpeg_quality: int = 95) -> Path:
    """Render ``synthetic_test_set(n, seed, size)`` into a new ytf68-format folder.

    Image names are ``synth<index>_00.jpg``, one person per image for person-disjoint splits.

    Returns:
        the folder.

    Raises:
        FileExistsError: ``out_dir`` exists and is not empty (nothing is overwritten).
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not empty; write a synthetic data set into a new or "
                              "empty folder")
    (out / "images").mkdir(parents=True, exist_ok=True)
    seeds = scene_seeds(n, seed)
    names, rows, truth = [], [], {}
    for i, sample in enumerate(synthetic_test_set(n, seed, size)):
        name = f"synth{i:06d}_00.jpg"
        if not cv2.imwrite(str(out / "images" / name), sample.image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]):
            raise OSError(f"cannot write {out / 'images' / name}")
        names.append(name)
        rows.append([name] + [f"{v:.3f}" for v in sample.landmarks_2d("ibug68").ravel()])
        for key, value in _labels(sample).items():
            truth.setdefault(key, []).append(value)
    with open(out / "landmarks.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image"] + [f"{a}{k}" for k in range(68) for a in ("x", "y")])
        w.writerows(rows)
    np.savez_compressed(out / "ground_truth.npz", image=np.array(names), seed=seeds,
                        **{k: np.stack(v) for k, v in truth.items()})
    return out


def _labels(s: SyntheticSample) -> dict[str, np.ndarray]:
    out = {"K": s.K, "rotation": s.rotation, "translation": s.translation, "euler": s.euler, "box": s.box}
    for layout in LAYOUTS:
        ids = s.ids(layout)
        out |= {f"{layout}_2d": s.vertices_2d[ids], f"{layout}_3d": s.vertices_3d[ids],
                f"{layout}_self_visible": s.self_visible[ids], f"{layout}_unoccluded": s.unoccluded[ids],
                f"{layout}_in_frame": s.in_frame[ids], f"{layout}_visible": s.visible[ids]}
    return out
