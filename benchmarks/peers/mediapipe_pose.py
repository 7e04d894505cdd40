"""Head pose of MediaPipe Face Mesh as a benchmark peer: its mesh has no pose output, so the pose
is fitted with ``cv2.solvePnP`` to our canonical face.

The 51 inner iBUG points picked from the mesh (``IBUG51``; the jaw mapping is approximate) are
matched to the same points of the shipped canonical face, turned into camera axes
(``diag(1, -1, -1)``, the runtime's convention: camera point = R @ diag(1, -1, -1) @ canonical +
t). The peer is given the image's true intrinsics ``K``, which our runtime is not (it uses its
own virtual camera): that favours the peer. Angles come from ``euler_yaw_pitch_roll`` on the
fitted rotation, so both systems are scored in one convention.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_landmarks.decode import euler_yaw_pitch_roll
from edge_landmarks.errors import InputError

from .mediapipe_facemesh import IBUG51, MediaPipeFaceMesh

CANONICAL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


def solve_pose(points_2d: np.ndarray, canonical_3d: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation of the canonical points that best explain their 2D positions.

    Args:
        points_2d: (N, 2) image pixels, N >= 6.
        canonical_3d: (N, 3) the same points of the canonical face, mm, canonical frame.
        K: (3, 3) camera intrinsics, px (no distortion).

    Returns:
        R (3, 3) and t (3,) mm with camera point = R @ diag(1, -1, -1) @ canonical + t.
    """
    p2 = np.ascontiguousarray(points_2d, dtype=np.float64)
    p3 = np.ascontiguousarray(np.asarray(canonical_3d, dtype=np.float64) @ CANONICAL_TO_CAMERA)
    if p2.ndim != 2 or p2.shape[1] != 2 or p3.shape != (len(p2), 3) or len(p2) < 6:
        raise InputError(f"expected (N, 2) points and (N, 3) canonical points with N >= 6; got {p2.shape}, {p3.shape}")
    K = np.asarray(K, dtype=np.float64)
    ok, rvec, tvec = cv2.solvePnP(p3, p2, K, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise InputError("cv2.solvePnP found no pose for these points")
    rvec, tvec = cv2.solvePnPRefineLM(p3, p2, K, None, rvec, tvec)
    return cv2.Rodrigues(rvec)[0], tvec.reshape(3)


def euler_from_points(points_2d: np.ndarray, canonical_3d: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(3,) yaw, pitch, roll in degrees (``euler_yaw_pitch_roll``) of ``solve_pose``."""
    return euler_yaw_pitch_roll(solve_pose(points_2d, canonical_3d, K)[0][None])[0]


class MediaPipePose:
    """MediaPipe Face Mesh plus ``solvePnP`` on the 51 inner points: head pose from a box and K.

    Args:
        canonical_68: (68, 3) the canonical face's iBUG points, mm; default: the shipped bundle's.
        mesh: a ``MediaPipeFaceMesh``; default: a new one with ``threads``.
        threads: interpreter threads of a new mesh peer.
    """

    name = "mediapipe-facemesh+solvepnp"

    def __init__(self, canonical_68: np.ndarray | None = None, mesh: MediaPipeFaceMesh | None = None,
                 threads: int = 1):
        if canonical_68 is None:
            from edge_landmarks.bundle import Bundle

            canonical_68 = Bundle.load().face.points("ibug68")
        canonical_68 = np.asarray(canonical_68, dtype=np.float64)
        if canonical_68.shape != (68, 3):
            raise InputError(f"canonical_68 must be (68, 3) mm; got {canonical_68.shape}")
        self.canonical = canonical_68[IBUG51]
        self.mesh = mesh if mesh is not None else MediaPipeFaceMesh(threads=threads)

    def euler(self, image: np.ndarray, box: np.ndarray, K: np.ndarray) -> np.ndarray:
        """(3,) yaw, pitch, roll in degrees of the face in ``box`` of a BGR uint8 image taken
        with intrinsics ``K``."""
        return euler_from_points(self.mesh.landmarks51(image, box), self.canonical, K)
