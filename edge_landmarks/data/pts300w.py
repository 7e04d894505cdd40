"""Loader for 300-W style folders: each image has a ``.pts`` file beside it (1-based coordinates)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from ..layouts import layout_for_count
from .sample import FaceSample

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def read_pts(path: str | Path) -> np.ndarray:
    """Read a ``.pts`` file (version/n_points header, ``{ x y ... }``) as 0-based (N, 2) float32."""
    path = Path(path)
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    try:
        n = int(next(ln for ln in lines if ln.startswith("n_points")).split(":")[1])
        start = lines.index("{") + 1
        end = lines.index("}")
        pts = np.array([[float(v) for v in ln.split()[:2]] for ln in lines[start:end]], dtype=np.float32)
    except (StopIteration, ValueError, IndexError) as e:
        raise DataError(f"{path}: not a valid .pts file ({e})") from None
    if pts.shape != (n, 2):
        raise DataError(f"{path}: header says {n} points, found {len(pts)}")
    return pts - 1.0


def load_300w(root: str | Path) -> list[FaceSample]:
    """All images under ``root`` (recursively) that have a ``.pts`` file beside them."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"300-W folder {root} not found")
    samples = []
    for pts_path in sorted(root.rglob("*.pts")):
        img = next((pts_path.with_suffix(s) for s in IMAGE_SUFFIXES if pts_path.with_suffix(s).is_file()), None)
        if img is None:
            raise DataError(f"{pts_path}: no image beside it (looked for {', '.join(IMAGE_SUFFIXES)})")
        pts = read_pts(pts_path)
        layout = layout_for_count(len(pts))
        samples.append(FaceSample(img, pts, layout, str(pts_path.relative_to(root).with_suffix("")), ""))
    if not samples:
        raise DataError(f"no .pts annotations found under {root}")
    return samples
