"""Landmark accuracy metrics (numpy): NME, failure rate, CED area. Used by training validation,
`edge-landmarks eval` and the benchmarks alike."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import InputError
from .layouts import layout_info


def nme_per_face(pred: np.ndarray, gt: np.ndarray, layout: str = "ibug68") -> np.ndarray:
    """Per-face NME: mean point-to-point error divided by the outer-eye-corner distance.

    Args:
        pred: (F, N, 2) predicted landmarks, pixels.
        gt: (F, N, 2) ground-truth landmarks, pixels.
        layout: layout name giving the outer eye corner indices.

    Returns:
        (F,) float64 NMEs as fractions (0.05 = 5 %).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise InputError(f"pred and gt must both be (F, N, 2); got {pred.shape} and {gt.shape}")
    i, j = layout_info(layout).outer_eye_corners
    iod = np.linalg.norm(gt[:, i] - gt[:, j], axis=-1)
    if np.any(iod <= 0):
        raise InputError("a ground-truth face has coincident outer eye corners; NME is undefined")
    return np.linalg.norm(pred - gt, axis=-1).mean(-1) / iod


def auc(nmes: np.ndarray, threshold: float = 0.10, steps: int = 1000) -> float:
    """Area under the cumulative error distribution up to ``threshold``, normalised to [0, 1]."""
    nmes = np.asarray(nmes, dtype=np.float64)
    if nmes.size == 0:
        return float("nan")
    xs = np.linspace(0.0, threshold, steps + 1)
    ced = (nmes[None, :] <= xs[:, None]).mean(1)
    return float(0.5 * (ced[1:] + ced[:-1]).mean())


def ced_curve(nmes: np.ndarray, threshold: float = 0.10, steps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, fraction of faces with NME <= threshold) for plotting a CED curve."""
    xs = np.linspace(0.0, threshold, steps + 1)
    return xs, (np.asarray(nmes)[None, :] <= xs[:, None]).mean(1)


@dataclass
class LandmarkReport:
    """Summary of a landmark evaluation; NMEs are fractions of the inter-ocular distance."""

    nme_mean: float
    nme_median: float
    fr10: float
    auc10: float
    n_faces: int
    per_face: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"NME mean {100 * self.nme_mean:.2f} %  median {100 * self.nme_median:.2f} %  "
            f"FR@10 {100 * self.fr10:.2f} %  AUC@10 {self.auc10:.4f}  faces {self.n_faces}"
        )


def landmark_report(nmes: np.ndarray, names: list[str] | None = None) -> LandmarkReport:
    """Build a LandmarkReport from per-face NMEs (and optional per-face names)."""
    nmes = np.asarray(nmes, dtype=np.float64)
    if nmes.size == 0:
        raise InputError("no faces to evaluate")
    names = names if names is not None else [str(i) for i in range(len(nmes))]
    if len(names) != len(nmes):
        raise InputError(f"got {len(names)} names for {len(nmes)} faces; expected one name per face")
    return LandmarkReport(
        nme_mean=float(nmes.mean()),
        nme_median=float(np.median(nmes)),
        fr10=float((nmes > 0.10).mean()),
        auc10=auc(nmes, 0.10),
        n_faces=int(nmes.size),
        per_face=[{"image": n, "nme": float(e)} for n, e in zip(names, nmes)],
    )
