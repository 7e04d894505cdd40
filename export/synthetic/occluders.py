"""Occluders drawn in 2D over the rendered face, each with an exact mask.

Kinds: ``hand`` (palm and fingers in a skin tone), ``bar`` (a long band across the face:
microphone, pen, strand of hair), ``glasses`` (dark lenses over the eyes, placed from the eye
landmarks) and ``blob`` (a random star-shaped object). Placement is relative to the box of the
68 projected landmarks, so an occluder follows the face in a sequence.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("hand", "bar", "glasses", "blob")
_SHIFT = 4  # cv2 sub-pixel bits


@dataclass(frozen=True)
class Occluder:
    """One occluder.

    Attributes:
        kind: one of ``KINDS``.
        colour: (r, g, b) in [0, 1].
        centre: (x, y) relative to the 68-point box: (0, 0) its centre, +-0.5 its edges.
        scale: size as a fraction of the box's larger side.
        angle: rotation in degrees (counter-clockwise in the image).
        seed: seed of the shape's details and shading.
    """

    kind: str
    colour: tuple[float, float, float]
    centre: tuple[float, float]
    scale: float
    angle: float
    seed: int


def sample_occluders(rng: np.random.Generator, skin_tone: tuple[float, float, float]) -> tuple[Occluder, ...]:
    """None (60 %), one (30 %) or two (10 %) random occluders."""
    r = rng.random()
    n = 0 if r < 0.6 else 1 if r < 0.9 else 2
    out = []
    for _ in range(n):
        kind = KINDS[int(rng.choice(4, p=[0.35, 0.25, 0.2, 0.2]))]
        if kind == "hand":
            colour = np.asarray(skin_tone) * rng.uniform(0.85, 1.1, 3)
        elif kind == "glasses":
            colour = rng.uniform(0.0, 0.15, 3)
        else:
            colour = rng.uniform(0.05, 0.9) * (1 + rng.normal(0, 0.3, 3))
        centre = rng.uniform(-0.45, 0.45, 2) if kind != "glasses" else np.zeros(2)
        scale = rng.uniform(0.35, 0.7) if kind in ("hand", "blob") else rng.uniform(0.08, 0.2)
        out.append(Occluder(kind, tuple(float(c) for c in np.clip(colour, 0, 1)), tuple(float(c) for c in centre),
                            float(scale), float(rng.uniform(0, 360)), int(rng.integers(2**31))))
    return tuple(out)


def _pts(p: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> cv2 fixed-point integers (``_SHIFT`` fractional bits)."""
    return np.round(np.asarray(p) * (1 << _SHIFT)).astype(np.int32)


def _pt(p: np.ndarray) -> tuple[int, ...]:
    return tuple(_pts(p).tolist())


def _line(m: np.ndarray, a: np.ndarray, b: np.ndarray, thickness: float) -> None:
    cv2.line(m, _pt(a), _pt(b), 255, max(int(thickness), 1), cv2.LINE_8, _SHIFT)


def _rot(angle: float) -> np.ndarray:
    a = np.deg2rad(angle)
    return np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])


def _shape_mask(occ: Occluder, shape: tuple[int, int], box: np.ndarray, landmarks: np.ndarray,
                visible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W) uint8 mask (255 inside) of one occluder."""
    m = np.zeros(shape, np.uint8)
    side = float(max(box[2] - box[0], box[3] - box[1], 1.0))
    c = (box[:2] + box[2:]) / 2 + np.asarray(occ.centre) * (box[2:] - box[:2])
    s = occ.scale * side
    rot = _rot(occ.angle)
    if occ.kind == "hand":  # palm, four fingers, thumb and wrist in the occluder's rotated frame
        cv2.ellipse(m, _pt(c), _pt([0.32 * s, 0.38 * s]), -occ.angle, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
        for dx, length in ((-0.22, 0.55), (-0.07, 0.62), (0.08, 0.6), (0.22, 0.5)):
            base = c + np.array([dx * s, -0.25 * s]) @ rot
            _line(m, base, base + np.array([rng.uniform(-0.05, 0.05) * s, -length * s]) @ rot, 0.13 * s)
        thumb = c + np.array([0.3 * s, 0.05 * s]) @ rot
        _line(m, thumb, thumb + np.array([0.35 * s, -0.25 * s]) @ rot, 0.15 * s)
        _line(m, c, c + np.array([0.0, 0.9 * s]) @ rot, 0.5 * s)
    elif occ.kind == "bar":
        d = np.array([1.0, 0.0]) @ rot
        _line(m, c - 2 * side * d, c + 2 * side * d, max(s, 2))
    elif occ.kind == "glasses":  # lenses over the visible eyes, bridge, arms towards the ears
        eyes = [landmarks[36:42], landmarks[42:48]]
        seen = [bool(visible[36:42].any()), bool(visible[42:48].any())]
        centres = [e.mean(0) for e in eyes]
        axis = centres[1] - centres[0]
        dist = float(np.linalg.norm(axis))
        width = max(dist * 0.5, 0.6 * max(float(np.ptp(e[:, 0])) for e in eyes), 2.0)
        tilt = float(np.degrees(np.arctan2(axis[1], axis[0]))) if dist > 1 else 0.0
        for ctr, ok, ear in zip(centres, seen, (0, 16)):
            if ok:
                cv2.ellipse(m, _pt(ctr), _pt([width * 0.95, width * 0.7]), tilt, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
                if visible[ear]:
                    _line(m, ctr, landmarks[ear], 0.06 * side)
        if all(seen):
            _line(m, centres[0], centres[1], 0.06 * side)
    elif occ.kind == "blob":
        a = np.linspace(0, 2 * np.pi, 9, endpoint=False) + rng.uniform(0, 0.5)
        r = s * 0.5 * rng.uniform(0.6, 1.0, 9)
        cv2.fillPoly(m, [_pts(c + np.stack([np.cos(a) * r, np.sin(a) * r], 1))], 255, cv2.LINE_8, _SHIFT)
    else:
        raise ValueError(f"unknown occluder kind {occ.kind!r}; expected one of {KINDS}")
    return m


def draw_occluders(image: np.ndarray, occluders: tuple[Occluder, ...], landmarks: np.ndarray,
                   visible: np.ndarray) -> np.ndarray:
    """Draw ``occluders`` over ``image`` (H, W, 3) uint8 BGR, in place; returns their union mask (H, W) bool.

    Args:
        landmarks: (68, 2) ibug68 points in pixels (placement).
        visible: (68,) self-visibility of those points (glasses skip hidden eyes).
    """
    h, w = image.shape[:2]
    union = np.zeros((h, w), bool)
    if not occluders:
        return union
    box = np.concatenate([landmarks.min(0), landmarks.max(0)])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for occ in occluders:
        rng = np.random.default_rng(occ.seed)
        mask = _shape_mask(occ, (h, w), box, landmarks, visible, rng) > 0
        if not mask.any():
            continue
        a = np.deg2rad(occ.angle + 90)
        ramp = (np.cos(a) * xx + np.sin(a) * yy)
        ramp = (ramp - ramp[mask].min()) / max(float(np.ptp(ramp[mask])), 1.0)
        shade = 0.65 + 0.5 * ramp
        if occ.kind in ("bar", "blob"):
            small = rng.uniform(0.75, 1.15, (4, 4)).astype(np.float32)
            shade = shade * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        bgr = np.asarray(occ.colour[::-1], np.float32) * 255
        layer = np.clip(bgr * shade[..., None], 0, 255).astype(np.uint8)
        image[mask] = layer[mask]
        union |= mask
    return union
