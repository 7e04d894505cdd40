"""Typed results of ``Runtime.detect`` and ``Runtime.track``.

Conventions:
- 2D points are pixels of the input image: x right, y down, the centre of the top-left pixel
  at (0, 0) (OpenCV).
- 3D points are millimetres in the camera frame of a virtual pinhole camera (OpenCV axes: x
  right, y down, z forward) whose principal point is ``Face.camera_center`` and focal length
  ``Face.focal_length`` (image pixels); projecting ``landmarks_3d`` with it gives ``landmarks``.
- Head pose: ``rotation`` maps the canonical face (x to the subject's left, y up, z out of the
  face) turned into camera axes by diag(1, -1, -1); a frontal, upright face has R = I.
  ``yaw`` is positive when the nose turns towards the image's left (the subject turns to their
  own right), ``pitch`` positive nose-down, ``roll`` positive when the face turns clockwise in
  the image; R = Ry(yaw) @ Rx(pitch) @ Rz(roll). With a bundle whose model has a pose head (the
  shipped one does), the pose is that head's estimate, while ``landmarks_3d`` and ``visibility``
  keep the rigid transform that projects onto ``landmarks`` (fitted to 2D labels): the two
  rotations may differ by a few degrees.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    """Head pose: Euler angles in degrees, ``rotation`` (3, 3) float32 and ``translation``
    (3,) float32 mm of the face origin (near the nose) in camera space."""

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray
    translation: np.ndarray


@dataclass(frozen=True)
class Face:
    """One face.

    Attributes:
        box: (4,) float32 ``[x0, y0, x1, y1]`` tight box of the predicted landmarks, image pixels.
        landmarks: (N, 2) float32 image pixels, in the order of ``layout``.
        landmarks_3d: (N, 3) float32 camera space, mm (see the module docstring).
        visibility: (N,) float32 in [0, 1]; below 0.5 the point faces away from the camera.
        pose: head pose.
        focal_length: virtual camera focal length, image pixels.
        camera_center: (2,) float32 principal point of the virtual camera, image pixels.
        score: face confidence in [0, 1].
        layout: the layout name, or "custom".
    """

    box: np.ndarray
    landmarks: np.ndarray
    landmarks_3d: np.ndarray
    visibility: np.ndarray
    pose: Pose
    focal_length: float
    camera_center: np.ndarray
    score: float
    layout: str

    def to_dict(self) -> dict:
        """JSON-friendly copy (lists of floats)."""
        r = lambda a, d=2: np.round(np.asarray(a, dtype=np.float64), d).tolist()  # noqa: E731
        return {
            "box": r(self.box), "layout": self.layout, "score": round(float(self.score), 4),
            "landmarks": r(self.landmarks), "landmarks_3d": r(self.landmarks_3d),
            "visibility": r(self.visibility, 3),
            "pose": {"yaw": round(self.pose.yaw, 2), "pitch": round(self.pose.pitch, 2), "roll": round(self.pose.roll, 2),
                     "rotation": r(self.pose.rotation, 5), "translation": r(self.pose.translation)},
            "focal_length": round(float(self.focal_length), 2), "camera_center": r(self.camera_center),
        }
