"""Drawing of landmark results with OpenCV (points, hidden points hollow, pose axes)."""
from __future__ import annotations

import cv2
import numpy as np


def draw_landmarks(image: np.ndarray, landmarks: np.ndarray, visibility: np.ndarray | None = None,
                   region: np.ndarray | None = None) -> np.ndarray:
    """Copy of a BGR image with landmarks drawn: visible points filled green, hidden ones hollow
    red, and the model's learned region of interest (4 corners) in yellow."""
    out = image.copy()
    r = max(1, round(max(image.shape[:2]) / 250))
    if region is not None:
        cv2.polylines(out, [np.round(region).astype(np.int32)], True, (0, 220, 255), 1, cv2.LINE_AA)
    for k, (x, y) in enumerate(np.asarray(landmarks)):
        seen = visibility is None or visibility[k] >= 0.5
        cv2.circle(out, (int(round(x)), int(round(y))), r, (0, 255, 0) if seen else (0, 0, 255), -1 if seen else 1, cv2.LINE_AA)
    return out
