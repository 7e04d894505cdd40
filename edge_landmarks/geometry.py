"""Face-box and affine helpers shared by training, evaluation and the runtime (numpy + OpenCV).

Coordinates are pixels of the image they refer to, with the centre of the top-left
pixel at (0, 0), x to the right and y down (the OpenCV convention).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .errors import InputError


def tight_box(points: np.ndarray) -> np.ndarray:
    """Tight box ``[x0, y0, x1, y1]`` (float32, pixels) around an (N, 2) point array."""
    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise InputError(f"expected an (N, 2) point array with N > 0, got shape {pts.shape}")
    return np.concatenate([pts.min(0), pts.max(0)]).astype(np.float32)


def check_box(box: np.ndarray, image_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Validate a ``[x0, y0, x1, y1]`` box and return it as float32.

    Raises:
        InputError: not four finite numbers, zero or negative area, or (when ``image_shape``
            is given) a box that does not overlap the image.
    """
    return np.array(box_floats(box, image_shape), np.float32)


def box_floats(box, image_shape: tuple[int, ...] | None = None) -> tuple[float, float, float, float]:
    """``check_box`` as four Python floats (what the affine maths takes)."""
    try:
        b = np.asarray(box, dtype=np.float64).reshape(-1).tolist()
    except (TypeError, ValueError):
        b = None
    if b is None or len(b) != 4 or not all(map(math.isfinite, b)):
        raise InputError(f"a face box must be 4 finite numbers [x0, y0, x1, y1], got {box!r}")
    x0, y0, x1, y1 = b
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"face box {b} has zero or negative area; expected x1 > x0 and y1 > y0")
    if image_shape is not None:
        h, w = image_shape[:2]
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            raise InputError(f"face box {b} lies outside the {w}x{h} image")
    return x0, y0, x1, y1


def box_to_input_affine(
    box: np.ndarray,
    size: int,
    enlarge: float,
    *,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    rotation_deg: float = 0.0,
    flip: bool = False,
) -> np.ndarray:
    """2x3 affine from image pixels to a ``size`` x ``size`` square input framing the box.

    The square has side ``enlarge * scale * max(w, h)`` of the box and is centred on the box
    centre moved by ``shift`` (fractions of that side length of the *box*). A positive
    ``rotation_deg`` turns the face counter-clockwise as seen in the input (the
    ``cv2.getRotationMatrix2D`` convention): at +90 a point right of the box centre lands
    above the input centre. ``flip`` mirrors the result horizontally. Training augmentation
    and the runtime use this one function, so the model sees faces framed the same way in both.
    """
    return square_affine(*box_floats(box), size, enlarge, shift=shift, scale=scale, rotation_deg=rotation_deg,
                         flip=flip)


def square_affine(x0: float, y0: float, x1: float, y1: float, size: int, enlarge: float, *,
                  shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0, rotation_deg: float = 0.0,
                  flip: bool = False) -> np.ndarray:
    """``box_to_input_affine`` of a box already checked, given as four floats (``box_floats``)."""
    side_box = max(x1 - x0, y1 - y0)
    cx = 0.5 * (x0 + x1) + shift[0] * side_box
    cy = 0.5 * (y0 + y1) + shift[1] * side_box
    s = size / (side_box * enlarge * scale)
    a = math.radians(rotation_deg)
    c, si = math.cos(a) * s, math.sin(a) * s
    h = (size - 1) / 2.0
    # rotate+scale about the box centre, then move it to the input centre
    m = np.array([[c, si, h - c * cx - si * cy], [-si, c, h + si * cx - c * cy]])
    if flip:
        m = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def affine_scale(m: np.ndarray) -> float:
    """Scale factor of a 2x3 similarity affine (square root of its linear part's |determinant|)."""
    return math.sqrt(abs(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]))


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine."""
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def compose_affine(*ms: np.ndarray) -> np.ndarray:
    """The 2x3 affine applying ``ms`` right to left: ``compose_affine(a, b)(x) = a(b(x))``."""
    out = np.eye(3)
    for m in ms:
        out = out @ np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])
    return out[:2]


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (..., 2) points."""
    p = np.asarray(points, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def warp_to_input(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Resample ``image`` with the 2x3 affine ``m`` into a size x size image (bilinear, edge replicated)."""
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
