"""Drawing of results with OpenCV: landmarks (hidden points hollow), head-pose axes, box."""
from __future__ import annotations

import cv2
import numpy as np

from .decode import CANONICAL_TO_CAMERA


def draw_landmarks(image: np.ndarray, landmarks: np.ndarray, visibility: np.ndarray | None = None,
                   region: np.ndarray | None = None) -> np.ndarray:
    """Copy of a BGR image with landmarks drawn: visible points filled green, hidden ones hollow
    red, and an optional region (4 corners) in yellow."""
    out = image.copy()
    r = max(1, round(max(image.shape[:2]) / 250))
    if region is not None:
        cv2.polylines(out, [np.round(region).astype(np.int32)], True, (0, 220, 255), 1, cv2.LINE_AA)
    for k, (x, y) in enumerate(np.asarray(landmarks)):
        seen = visibility is None or visibility[k] >= 0.5
        cv2.circle(out, (int(round(x)), int(round(y))), r, (0, 255, 0) if seen else (0, 0, 255), -1 if seen else 1, cv2.LINE_AA)
    return out


def draw_face(image: np.ndarray, face, axes_mm: float = 60.0) -> np.ndarray:
    """Copy of a BGR image with one ``Face`` drawn: landmarks, box, and the head's canonical
    axes (x red: subject's left, y green: up, z blue: out of the face) via cv2.drawFrameAxes."""
    out = draw_landmarks(image, face.landmarks, face.visibility)
    x0, y0, x1, y1 = np.round(face.box).astype(int)
    cv2.rectangle(out, (x0, y0), (x1, y1), (255, 200, 0), 1, cv2.LINE_AA)
    k = np.array([[face.focal_length, 0, face.camera_center[0]], [0, face.focal_length, face.camera_center[1]], [0, 0, 1]])
    rvec, _ = cv2.Rodrigues((face.pose.rotation @ CANONICAL_TO_CAMERA).astype(np.float64))
    cv2.drawFrameAxes(out, k, np.zeros(5), rvec, face.pose.translation.astype(np.float64).reshape(3, 1), axes_mm,
                      max(1, round(max(image.shape[:2]) / 300)))
    return out
