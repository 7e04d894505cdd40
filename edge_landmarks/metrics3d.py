"""Metrics that need 3D ground truth (numpy): head-pose MAE, 3D landmark error, visibility
accuracy and F1, and frame-to-frame jitter with the true motion removed. Used by
``edge-landmarks eval-3d`` on synthetic faces, where that ground truth exists."""
from __future__ import annotations

import numpy as np

from .errors import InputError
from .layouts import layout_info

YAW_BINS = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0))


def _check(a: np.ndarray, b: np.ndarray, what: str, last: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or (last is not None and (a.ndim < 2 or a.shape[-1] != last)):
        raise InputError(f"{what}: prediction and ground truth must have the same shape (..., {last or 'K'}); "
                         f"got {a.shape} and {b.shape}")
    return a, b


def angle_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(F, 3) absolute yaw, pitch, roll errors in degrees, wrapped to [0, 180]."""
    p, g = _check(pred, gt, "angles", 3)
    return np.abs((p - g + 180.0) % 360.0 - 180.0)


def pose_mae(pred: np.ndarray, gt: np.ndarray, max_yaw: float = 60.0) -> dict:
    """Head-pose MAE (degrees) of faces with |true yaw| <= ``max_yaw``: ``yaw``, ``pitch``,
    ``roll`` and their ``mean``, plus ``n_faces``. NaN when no face qualifies."""
    err = angle_errors(pred, gt)
    keep = np.abs(np.asarray(gt, dtype=np.float64)[:, 0]) <= max_yaw
    if not keep.any():
        return {"yaw": float("nan"), "pitch": float("nan"), "roll": float("nan"), "mean": float("nan"), "n_faces": 0}
    m = err[keep].mean(0)
    return {"yaw": float(m[0]), "pitch": float(m[1]), "roll": float(m[2]), "mean": float(m.mean()), "n_faces": int(keep.sum())}


def pose_mae_by_yaw(pred: np.ndarray, gt: np.ndarray, bins=YAW_BINS) -> dict:
    """``pose_mae`` per |true yaw| bin, keyed like ``"0-30"``; the upper edge is inclusive."""
    err = angle_errors(pred, gt)
    yaw = np.abs(np.asarray(gt, dtype=np.float64)[:, 0])
    out = {}
    for lo, hi in bins:
        keep = (yaw >= lo) & (yaw <= hi) if lo == 0 else (yaw > lo) & (yaw <= hi)
        m = err[keep].mean(0) if keep.any() else np.full(3, np.nan)
        out[f"{lo:g}-{hi:g}"] = {"yaw": float(m[0]), "pitch": float(m[1]), "roll": float(m[2]),
                                 "mean": float(m.mean()), "n_faces": int(keep.sum())}
    return out


def nme_3d(pred: np.ndarray, gt: np.ndarray, layout: str = "ibug68") -> np.ndarray:
    """(F,) 3D landmark error: mean point distance after both shapes are moved to their own
    centroid (depth along the view ray is ambiguous from one image, its offset is not scored),
    divided by the true 3D distance of the outer eye corners."""
    p, g = _check(pred, gt, "3D landmarks", 3)
    if p.ndim != 3:
        raise InputError(f"3D landmarks must be (F, N, 3); got {p.shape}")
    i, j = layout_info(layout).outer_eye_corners
    iod = np.linalg.norm(g[:, i] - g[:, j], axis=-1)
    if np.any(iod <= 0):
        raise InputError("a ground-truth face has coincident outer eye corners; 3D NME is undefined")
    d = (p - p.mean(1, keepdims=True)) - (g - g.mean(1, keepdims=True))
    return np.linalg.norm(d, axis=-1).mean(-1) / iod


def visibility_scores(pred: np.ndarray, gt: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall and F1 of "visible" (``pred >= threshold``) against boolean
    ground truth, over all points of all faces."""
    p, g = _check(pred, np.asarray(gt, dtype=np.float64), "visibility")
    yp, yg = p.reshape(-1) >= threshold, g.reshape(-1) > 0.5
    if yp.size == 0:
        raise InputError("visibility: no points to score")
    tp, fp, fn = int((yp & yg).sum()), int((yp & ~yg).sum()), int((~yp & yg).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float((yp == yg).mean()), "precision": precision, "recall": recall, "f1": f1,
            "visible_share": float(yg.mean())}


def sequence_jitter(pred: np.ndarray, gt: np.ndarray, layout: str = "ibug68") -> float:
    """Mean frame-to-frame jitter of one track: the predicted motion of each point minus its true
    motion, averaged over points and frame pairs, divided by the mean true outer-eye-corner
    distance. ``pred`` and ``gt`` are (T, N, 2) pixels, T >= 2."""
    p, g = _check(pred, gt, "sequence", 2)
    if p.ndim != 3 or len(p) < 2:
        raise InputError(f"a sequence must be (T, N, 2) with T >= 2; got {p.shape}")
    i, j = layout_info(layout).outer_eye_corners
    iod = float(np.linalg.norm(g[:, i] - g[:, j], axis=-1).mean())
    if iod <= 0:
        raise InputError("coincident outer eye corners; jitter is undefined")
    d = np.diff(p, axis=0) - np.diff(g, axis=0)
    return float(np.linalg.norm(d, axis=-1).mean() / iod)
