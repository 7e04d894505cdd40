"""Backgrounds: crops of real ytf68 frames away from the annotated person, or procedural clutter.

The person in a ytf68 frame is masked out by cropping only from the strips left of, right of
and above their landmark box (enlarged for hair, with everything below the face excluded for
the body), so no real face leaks into a synthetic image.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from edge_landmarks.errors import DataError
from edge_landmarks.paths import shared_data_dir

DEFAULT_YTF68_DIR = shared_data_dir() / "ytf68"
_MIN_STRIP = 16  # px: narrower strips of a frame are not used


@dataclass(frozen=True)
class Background:
    """What lies behind the head.

    Attributes:
        kind: ``"image"`` (a crop of a ytf68 frame) or ``"procedural"``.
        image: ytf68 file name (``kind == "image"``).
        strip: in [0, 1): picks one of the frame's person-free strips, weighted by area.
        crop: (x, y, w, h) in [0, 1]: the crop's position and size as fractions of the strip.
        flip: mirror the crop horizontally.
        gain: brightness factor applied to the crop.
        seed: seed of the procedural pattern (also the fallback when a frame has no usable strip).
    """

    kind: str
    image: str
    strip: float
    crop: tuple[float, float, float, float]
    flip: bool
    gain: float
    seed: int


@lru_cache(maxsize=2)
def ytf68_boxes(root: str | Path = DEFAULT_YTF68_DIR) -> dict[str, tuple[float, float, float, float]]:
    """File name -> tight box (x0, y0, x1, y1) of its 68 landmarks, in ``landmarks.csv`` order.

    Raises:
        DataError: the folder or its ``landmarks.csv`` is missing.
    """
    path = Path(root) / "landmarks.csv"
    if not path.is_file():
        raise DataError(f"background frames need the ytf68 data set: {path} not found (expected ../shared/data/ytf68)")
    out = {}
    with open(path, newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            p = np.asarray(row[1:], np.float64).reshape(-1, 2)
            out.setdefault(row[0], (*p.min(0), *p.max(0)))
    return out


def sample_background(rng: np.random.Generator, image_fraction: float = 0.75) -> Background:
    """Random background: a ytf68 frame crop with probability ``image_fraction``, else procedural."""
    names = list(ytf68_boxes())
    use_image = rng.random() < image_fraction
    name = names[int(rng.integers(len(names)))]
    w, h = rng.uniform(0.5, 1.0, 2)
    crop = (float(rng.random()), float(rng.random()), float(w), float(h))
    return Background(kind="image" if use_image else "procedural", image=name if use_image else "",
                      strip=float(rng.random()), crop=crop, flip=bool(rng.random() < 0.5),
                      gain=float(rng.uniform(0.6, 1.3)), seed=int(rng.integers(2**31)))


@lru_cache(maxsize=512)
def _frame(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"cannot read background frame {path}")
    img.setflags(write=False)
    return img


def _strips(shape: tuple[int, int], box: tuple[float, float, float, float]) -> list[tuple[int, int, int, int]]:
    """Person-free rectangles (x0, y0, x1, y1) of a frame of ``shape`` (H, W) with landmark ``box``."""
    h, w = shape
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    px0, px1 = int(np.floor(x0 - 0.25 * bw)), int(np.ceil(x1 + 0.25 * bw))
    py0 = int(np.floor(y0 - 0.6 * bh))
    out = [(0, 0, px0, h), (px1, 0, w, h), (0, 0, w, py0)]
    return [(a, b, min(c, w), min(d, h)) for a, b, c, d in out if min(c, w) - a >= _MIN_STRIP and min(d, h) - b >= _MIN_STRIP]


def procedural_background(seed: int, size: int) -> np.ndarray:
    """(size, size, 3) uint8 BGR: a muted colour gradient, soft blobs and a few hard-edged shapes."""
    rng = np.random.default_rng(seed)

    def colour() -> np.ndarray:
        return np.clip(rng.uniform(25, 225) + rng.normal(0, 22, 3), 0, 255)

    c0, c1 = colour(), colour()
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = (np.cos(a) * xx + np.sin(a) * yy)[..., None]
    img = c0 * (1 - t) + c1 * t
    blobs = cv2.resize(rng.normal(0, 20, (4, 4, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    img = (img + blobs).astype(np.float32)
    for _ in range(int(rng.integers(2, 7))):
        fill = colour().tolist()
        p = (rng.uniform(-0.2, 1.2, 2) * size).astype(int)
        q = (rng.uniform(0.05, 0.6, 2) * size).astype(int)
        if rng.random() < 0.5:
            cv2.rectangle(img, tuple(p.tolist()), tuple((p + q).tolist()), fill, -1)
        else:
            cv2.ellipse(img, tuple(p.tolist()), tuple(q.tolist()), float(rng.uniform(0, 180)), 0, 360, fill, -1)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 3.0)))
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_background(bg: Background, size: int, root: str | Path = DEFAULT_YTF68_DIR) -> np.ndarray:
    """(size, size, 3) uint8 BGR background image of ``bg``.

    Raises:
        DataError: an image background whose ytf68 frame is missing.
    """
    if bg.kind == "procedural":
        return procedural_background(bg.seed, size)
    if bg.kind != "image":
        raise DataError(f"unknown background kind {bg.kind!r}; expected 'image' or 'procedural'")
    boxes = ytf68_boxes(root)
    if bg.image not in boxes:
        raise DataError(f"background frame {bg.image!r} is not in {Path(root) / 'landmarks.csv'}")
    frame = _frame(str(Path(root) / "images" / bg.image))
    strips = _strips(frame.shape[:2], boxes[bg.image])
    if not strips:
        return procedural_background(bg.seed, size)
    area = np.array([(c - a) * (d - b) for a, b, c, d in strips], np.float64)
    k = min(int(np.searchsorted(np.cumsum(area) / area.sum(), bg.strip, side="right")), len(strips) - 1)
    x0, y0, x1, y1 = strips[k]
    sw, sh = x1 - x0, y1 - y0
    cw, ch = max(int(bg.crop[2] * sw), _MIN_STRIP), max(int(bg.crop[3] * sh), _MIN_STRIP)
    cw, ch = min(cw, 2 * ch), min(ch, 2 * cw)  # at most 2:1 stretch
    cx = x0 + int(bg.crop[0] * (sw - cw))
    cy = y0 + int(bg.crop[1] * (sh - ch))
    out = cv2.resize(frame[cy:cy + ch, cx:cx + cw], (size, size), interpolation=cv2.INTER_LINEAR)
    if bg.flip:
        out = out[:, ::-1]
    return cv2.convertScaleAbs(out, alpha=bg.gain)
