"""Deterministic, pose-stratified calibration sets of prepared network inputs."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_landmarks.errors import DataError
from edge_landmarks.image import face_crop, to_network_input

from .sources import Locator, iter_faces

MIN_IMAGES = 8  # below this no quantizer gives usable ranges
RECOMMENDED_IMAGES = 300  # NNCF's default subset size; the most any of the three tools asks for
YAW_BINS = np.array([-np.inf, -0.45, -0.25, -0.1, 0.1, 0.25, 0.45, np.inf])


@dataclass(frozen=True)
class CalibrationSet:
    """``inputs`` (N, 3, S, S) float32 network inputs; ``names`` of their faces; ``yaw_bin`` (N,)."""

    inputs: np.ndarray
    names: list[str]
    yaw_bin: np.ndarray

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, inputs=self.inputs, names=np.array(self.names), yaw_bin=self.yaw_bin)


def yaw_proxy(landmarks68: np.ndarray) -> float:
    """A signed head-turn measure from 68 points: the nose tip's horizontal offset from the
    outer eye corners' midpoint, per inter-ocular distance (about 0 frontal, +-0.5 near profile)."""
    p = np.asarray(landmarks68, dtype=np.float64)
    eyes = p[[36, 45]]
    axis = eyes[1] - eyes[0]
    iod = max(np.linalg.norm(axis), 1e-6)
    return float(np.dot(p[30] - eyes.mean(0), axis / iod) / iod)


def build_calibration_set(source: str | Path, count: int, size: int, enlarge: float, color: str = "rgb",
                          mean: float = 0.5, std: float = 0.5, locate: Locator | None = None, seed: int = 0) -> CalibrationSet:
    """``count`` faces from ``source`` (see ``iter_faces``), taken round-robin over head-turn bins
    (a seeded shuffle inside each bin), prepared as the runtime prepares them.

    Raises:
        DataError: fewer than ``MIN_IMAGES`` usable faces, or fewer than ``count``.
    Warns:
        UserWarning: ``count`` under ``RECOMMENDED_IMAGES``.
    """
    if count < MIN_IMAGES:
        raise DataError(f"a calibration set needs at least {MIN_IMAGES} faces, {count} were asked for")
    faces = list(iter_faces(source, locate))
    if len(faces) < count:
        raise DataError(f"{source} gave {len(faces)} usable faces; the calibration set needs {count} "
                        f"(at least {MIN_IMAGES}, ideally {RECOMMENDED_IMAGES})")
    if count < RECOMMENDED_IMAGES:
        warnings.warn(f"{count} calibration faces; the quantizers recommend about {RECOMMENDED_IMAGES}", stacklevel=2)
    bins = np.digitize([yaw_proxy(f[3]) for f in faces], YAW_BINS[1:-1])
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.flatnonzero(bins == b))) for b in range(len(YAW_BINS) - 1)]
    chosen: list[int] = []
    while len(chosen) < count:
        for q in queues:
            if q and len(chosen) < count:
                chosen.append(int(q.pop()))
    crops = [face_crop(faces[i][1], faces[i][2], size, enlarge)[0] for i in chosen]
    return CalibrationSet(to_network_input(crops, color, mean, std), [faces[i][0] for i in chosen], bins[chosen])
