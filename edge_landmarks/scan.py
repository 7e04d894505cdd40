"""Several faces without a separate detector: the landmark model itself scores a grid of windows
(its face score), each window's landmarks give a face box, and overlapping boxes are merged
with OpenCV's non-maximum suppression. Nothing to download; the cost is one model call per
window, so it suits stills and re-detection, not every video frame.

Limits: faces between ``min_face`` of the image's short side and the whole image, roughly
frontal to half profile; small faces in large images cost more windows.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ScanSettings:
    """``min_face``: smallest face box side, fraction of the image's short side; ``scale_step``:
    ratio of successive window sizes; ``stride``: window step, fraction of the window side;
    ``score``: window score a face must reach; ``iou``: overlap above which boxes merge;
    ``max_windows``: refuse grids larger than this (InputError from the runtime)."""

    min_face: float = 0.12
    scale_step: float = 1.4
    stride: float = 0.34
    score: float = 0.9
    iou: float = 0.3
    max_windows: int = 4000


def window_boxes(height: int, width: int, s: ScanSettings = ScanSettings()) -> np.ndarray:
    """(K, 4) float32 square windows ``[x0, y0, x1, y1]`` covering the whole image at every scale,
    from ``min_face`` of the short side up to the short side."""
    short = min(height, width)
    side = max(8.0, s.min_face * short)
    out = []
    while side <= short * 1.001:
        step = max(1.0, s.stride * side)
        xs = _starts(width, side, step)
        ys = _starts(height, side, step)
        gx, gy = np.meshgrid(xs, ys)
        out.append(np.stack([gx.ravel(), gy.ravel(), gx.ravel() + side, gy.ravel() + side], axis=1))
        side *= s.scale_step
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 4), np.float32)


def _starts(extent: int, side: float, step: float) -> np.ndarray:
    """Window starts from 0 to ``extent - side``, evenly spaced, at most ``step`` apart."""
    span = max(0.0, extent - side)
    return np.linspace(0.0, span, int(np.ceil(span / step)) + 1)


def merge(boxes: np.ndarray, scores: np.ndarray, s: ScanSettings = ScanSettings()) -> np.ndarray:
    """Indices of the boxes kept by non-maximum suppression (``cv2.dnn.NMSBoxes``), best first."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    keep = cv2.dnn.NMSBoxes(xywh, [float(v) for v in scores], s.score, s.iou)
    return np.asarray(keep, dtype=np.int64).reshape(-1)
