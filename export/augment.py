"""Training augmentation (numpy + OpenCV): geometric framing jitter with symmetric flips, and
photometric changes, blur, noise and synthetic occluders."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_landmarks.geometry import apply_affine, box_to_input_affine, tight_box


@dataclass(frozen=True)
class AugmentConfig:
    max_rotation: float = 50.0
    rotation_uniform_prob: float = 0.7  # share of rotations drawn uniformly in ±max_rotation
    rotation_std: float = 5.0  # the others: normal, degrees
    scale_range: tuple[float, float] = (0.65, 1.5)
    max_shift: float = 0.25
    flip_prob: float = 0.5
    occluder_prob: float = 0.3
    blur_prob: float = 0.2
    noise_prob: float = 0.2
    gray_prob: float = 0.1
    label_x_offset: float = 0.0  # the labels' x convention offset, image px (e.g. ytf68's LABEL_X_OFFSET)


def flip_source(points: np.ndarray, flip: bool, label_x_offset: float) -> np.ndarray:
    """Label points to map through a framing affine: under a flip, moved by ``-2 * label_x_offset``
    in x first. Labels L = T + (d, 0) of true points T; a real face in the mirrored framing should
    carry the same offset in its own upright frame, which is m_flipped(T - (d, 0)) = m_flipped(L - (2d, 0))."""
    p = np.asarray(points, dtype=np.float64)
    return p - np.array([2.0 * label_x_offset, 0.0]) if flip else p


def draw_rotation(rng: np.random.Generator, max_rotation: float, uniform_prob: float, std: float) -> float:
    """In-plane rotation in degrees: with probability ``uniform_prob`` uniform in ±``max_rotation``,
    otherwise from a normal of ``std`` degrees clipped to that range."""
    return (rng.uniform(-max_rotation, max_rotation) if rng.random() < uniform_prob
            else float(np.clip(rng.normal(0, std), -max_rotation, max_rotation)))


def frame_face(image, landmarks, size, enlarge, flip_perm, rng: np.random.Generator | None, cfg: AugmentConfig):
    """Resample a face into the network input; with ``rng`` the framing is randomly jittered.

    Returns (input image (size, size, 3) uint8, landmarks in input pixels (N, 2) float32, the 2x3
    affine from image to input pixels)."""
    box = tight_box(landmarks)
    if rng is None:
        m = box_to_input_affine(box, size, enlarge)
        flip = False
    else:
        rot = draw_rotation(rng, cfg.max_rotation, cfg.rotation_uniform_prob, cfg.rotation_std)
        lo, hi = np.log(cfg.scale_range[0]), np.log(cfg.scale_range[1])
        flip = bool(rng.random() < cfg.flip_prob)
        m = box_to_input_affine(
            box, size, enlarge,
            shift=tuple(rng.uniform(-cfg.max_shift, cfg.max_shift, 2)),
            scale=float(np.exp(rng.uniform(lo, hi))),
            rotation_deg=rot,
            flip=flip,
        )
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE if rng is None or rng.random() < 0.5 else cv2.BORDER_CONSTANT)
    pts = apply_affine(m, flip_source(landmarks, flip, cfg.label_x_offset)).astype(np.float32)
    if flip:
        pts = pts[flip_perm]
    return out, pts, m


def photometric(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Colour, contrast, blur, noise and occluders on a uint8 BGR image."""
    x = img.astype(np.float32)
    x = x * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
    x = x * rng.uniform(0.85, 1.15, 3)[None, None, :]
    if rng.random() < cfg.gray_prob:
        x = np.repeat(x.mean(-1, keepdims=True), 3, axis=-1)
    x = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < cfg.blur_prob:
        k = int(rng.choice([3, 5]))
        x = cv2.GaussianBlur(x, (k, k), 0) if rng.random() < 0.5 else cv2.blur(x, (k, 1) if rng.random() < 0.5 else (1, k))
    if rng.random() < cfg.occluder_prob:
        x = occlude(x, rng)
    if rng.random() < cfg.noise_prob:
        x = np.clip(x.astype(np.float32) + rng.normal(0, rng.uniform(3, 12), x.shape), 0, 255).astype(np.uint8)
    return x


def occlude(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paint one synthetic occluder: a hand-like ellipse blob, a bar, or sunglasses-like ellipses."""
    h, w = img.shape[:2]
    out = img.copy()
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    kind = rng.integers(3)
    cx, cy = int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h)
    if kind == 0:
        axes = (int(rng.uniform(0.08, 0.25) * w), int(rng.uniform(0.08, 0.25) * h))
        cv2.ellipse(out, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
    elif kind == 1:
        t = int(rng.uniform(0.04, 0.12) * h)
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)]) * w
        cv2.line(out, (int(cx - d[0]), int(cy - d[1])), (int(cx + d[0]), int(cy + d[1])), color, t)
    else:
        r = int(rng.uniform(0.08, 0.14) * w)
        dx = int(rng.uniform(0.15, 0.22) * w)
        for sx in (-1, 1):
            cv2.ellipse(out, (cx + sx * dx, cy), (r, int(r * 0.75)), 0, 0, 360, (20, 20, 20), -1)
        cv2.line(out, (cx - dx, cy), (cx + dx, cy), (20, 20, 20), max(1, r // 4))
    return out


def to_tensor_layout(img_bgr: np.ndarray, mean: float, std: float) -> np.ndarray:
    """uint8 BGR (H, W, 3) -> float32 RGB (3, H, W) normalised as the model expects."""
    x = img_bgr[:, :, ::-1].astype(np.float32) / 255.0
    return ((x - mean) / std).transpose(2, 0, 1)
