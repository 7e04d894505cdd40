"""Frame-to-frame face motion for the video tracker: sparse optical flow
(``cv2.calcOpticalFlowPyrLK``) of the previous frame's landmarks, from the previous face crop
to the current frame seen through the same crop, and a robust similarity fitted to the tracked
points (``cv2.estimateAffinePartial2D``, least median of squares).

Why: the tracker moves its crop with this motion, so a still or rigidly moving face reaches the
network framed the same way frame after frame (to a hundredth of a crop pixel), and the One Euro
filter smooths in the face's moving frame, so it no longer lags behind head motion. Cost: one
extra crop, the flow of 26 points and the fit: ``track`` took 1.1 ms per frame with it against
0.65 ms without on one core of this project's 2-core build machine (TFLite int8). Limits:
motion beyond about ``window * 2 ** levels`` crop pixels per frame, strong non-rigid motion or
heavy occlusion fail the fit (too few points), and the tracker then frames from the landmarks
alone, as without motion.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionSettings:
    """``step``: every step-th inner-face landmark (ibug68 points 17-67) is tracked; ``window``:
    side of the flow window, crop pixels; ``levels``: pyramid levels above the crop;
    ``min_points``: fewest tracked points for a fit; ``max_error``: largest median residual of
    the fit, crop pixels."""

    step: int = 2
    window: int = 11
    levels: int = 1
    min_points: int = 8
    max_error: float = 0.5


def crop_gray(crop: np.ndarray) -> np.ndarray:
    """The grey image flow runs on, from a BGR uint8 face crop."""
    return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)


def crop_motion(prev_gray: np.ndarray, gray: np.ndarray, points: np.ndarray,
                settings: MotionSettings = MotionSettings()) -> np.ndarray | None:
    """2x3 similarity moving ``points`` (K, 2) of ``prev_gray`` onto ``gray`` (same crop frame,
    pixels), or None when too few points are tracked or the fit is poor."""
    p0 = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 1, 2)
    p1, found, _ = cv2.calcOpticalFlowPyrLK(
        prev_gray, gray, p0, None, winSize=(settings.window, settings.window), maxLevel=settings.levels,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 10, 0.01))
    ok = found.ravel() == 1
    if ok.sum() < settings.min_points:
        return None
    a, b = p0[ok, 0], p1[ok, 0]
    m, _ = cv2.estimateAffinePartial2D(a, b, method=cv2.LMEDS)
    if m is None:
        return None
    residual = np.linalg.norm(a @ m[:, :2].T + m[:, 2] - b, axis=1)
    return m if float(np.median(residual)) <= settings.max_error else None
