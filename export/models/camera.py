"""Rigid transform and perspective projection (torch).

Frames: the canonical face (mm; x to the subject's left, y up, z towards the viewer) is turned
into OpenCV camera axes (x right, y down, z forward) by ``CANONICAL_TO_CAMERA`` = diag(1, -1, -1),
then rotated by the predicted head rotation R and moved by t (mm):
``X_cam = R @ CANONICAL_TO_CAMERA @ X_canonical + t``. A frontal face has R = I.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CANONICAL_TO_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def rotation_from_6d(x: torch.Tensor) -> torch.Tensor:
    """(B, 6) -> (B, 3, 3) rotation matrices (Zhou et al.'s continuous 6D representation);
    the two 3-vectors are the first two columns before Gram-Schmidt."""
    a, b = x[:, :3], x[:, 3:]
    c1 = F.normalize(a, dim=-1)
    c2 = F.normalize(b - (c1 * b).sum(-1, keepdim=True) * c1, dim=-1)
    c3 = torch.cross(c1, c2, dim=-1)
    return torch.stack([c1, c2, c3], dim=-1)


def to_camera(points: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Canonical (B, N, 3) -> camera space (B, N, 3), mm."""
    m = rotation @ CANONICAL_TO_CAMERA.to(points)
    return points @ m.transpose(1, 2) + translation[:, None, :]


def project(points_cam: torch.Tensor, focal: torch.Tensor, center: float) -> torch.Tensor:
    """Pinhole projection of camera-space points (B, N, 3) to pixels (B, N, 2).

    ``focal`` (B,) is in pixels, ``center`` the principal point (same for x and y)."""
    z = points_cam[..., 2:3].clamp(min=1.0)
    return points_cam[..., :2] / z * focal[:, None, None] + center


def euler_yaw_pitch_roll(rotation: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) head rotations -> (B, 3) yaw, pitch, roll in degrees.

    R = Ry(yaw) @ Rx(pitch) @ Rz(roll) in camera axes: yaw about the image's vertical axis
    (positive: the nose moves towards the image's left, i.e. the subject turns to their own right),
    pitch about the horizontal axis (positive: chin down in OpenCV's y-down frame, nose down),
    roll about the optical axis (positive: clockwise in the image)."""
    r = rotation
    pitch = torch.asin((-r[:, 1, 2]).clamp(-1, 1))
    yaw = torch.atan2(r[:, 0, 2], r[:, 2, 2])
    roll = torch.atan2(r[:, 1, 0], r[:, 1, 1])
    return torch.rad2deg(torch.stack([yaw, pitch, roll], dim=-1))


def facing_camera(normals: torch.Tensor, rotation: torch.Tensor, points_cam: torch.Tensor, softness: float = 0.1) -> torch.Tensor:
    """Visibility score in [0, 1] of surface points (B, N): their canonical normals (N, 3),
    rotated into camera space, point towards the camera (cosine with the view ray > 0)."""
    n_cam = normals[None] @ (rotation @ CANONICAL_TO_CAMERA.to(rotation)).transpose(1, 2)
    view = -torch.nn.functional.normalize(points_cam, dim=-1)
    return torch.sigmoid((n_cam * view).sum(-1) / softness)
