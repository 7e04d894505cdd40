"""Several faces without a separate detector: the landmark model itself scores a grid of windows
(its face score), each window's landmarks give a face box, and overlapping boxes are merged
with OpenCV's non-maximum suppression. Nothing to download; the cost is one model call per
window, so it suits stills and re-detection, not every video frame. The score also fires on
windows holding part of a face, so overlapping candidates are grouped and each group's union box
is re-framed by the localiser (three passes, as for one loosely framed face).

Limits: faces between ``min_face`` of the image's short side and the whole image, roughly
frontal to half profile; small faces in large images cost more windows; faces that touch or
overlap are taken as one group and come back as one face.
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
    ``group``: overlap (intersection over the smaller box) above which candidates are taken as
    parts of one face; ``face_score``: score a re-framed face must reach; ``max_windows``: refuse
    grids larger than this (InputError from the runtime). Chosen for the shipped student on
    mosaics of three validation faces (``benchmarks/scan_mosaic.py``, seeds 0 and 1, 8 images
    each): 21 and 24 of 24 faces found, 3 and 0 false faces."""

    min_face: float = 0.12
    scale_step: float = 1.4
    stride: float = 0.34
    score: float = 0.93
    iou: float = 0.3
    group: float = 0.3
    face_score: float = 0.99
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


def group_boxes(boxes: np.ndarray, s: ScanSettings = ScanSettings()) -> np.ndarray:
    """(G, 4) union boxes of the groups of overlapping ``boxes`` (linked when their intersection
    covers more than ``group`` of the smaller one, transitively). The face score also fires on
    windows that hold part of a face (an eye, a mouth): each such part's box lies on its face,
    so the union of a group frames the whole face for the localiser's passes."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    parent = list(range(len(b)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iw = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    ih = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    linked = np.clip(iw, 0, None) * np.clip(ih, 0, None) > s.group * np.minimum(area[:, None], area[None, :])
    for i, j in zip(*np.nonzero(np.triu(linked, 1))):
        parent[root(int(i))] = root(int(j))
    roots = np.array([root(i) for i in range(len(b))], dtype=np.int64)
    return np.array([np.concatenate([b[roots == r, :2].min(0), b[roots == r, 2:].max(0)]) for r in np.unique(roots)],
                    dtype=np.float32).reshape(-1, 4)
