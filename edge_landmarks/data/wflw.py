"""Loader for WFLW annotation lists (``list_98pt_rect_attr_*.txt``).

Each line: 196 coordinates (98 x,y pairs, 0-based pixels), 4 box values, 6 attribute
flags, then the image path relative to the images folder.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .sample import FaceSample

_N = 98


def load_wflw(annotation_file: str | Path, images_root: str | Path) -> list[FaceSample]:
    """Read a WFLW annotation list; one FaceSample per line (lines may share an image)."""
    annotation_file, images_root = Path(annotation_file), Path(images_root)
    if not annotation_file.is_file():
        raise DataError(f"WFLW annotation list {annotation_file} not found")
    samples = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(annotation_file.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 * _N + 4 + 6 + 1:
            raise DataError(
                f"{annotation_file}:{line_no}: expected {2 * _N + 11} fields (196 coords, 4 box, 6 attrs, path), "
                f"got {len(fields)}"
            )
        try:
            pts = np.asarray(fields[: 2 * _N], dtype=np.float32).reshape(_N, 2)
        except ValueError as e:
            raise DataError(f"{annotation_file}:{line_no}: non-numeric coordinate ({e})") from None
        rel = fields[-1]
        img = images_root / rel
        if not img.is_file():
            raise DataError(f"{annotation_file}:{line_no}: image {img} not found")
        k = seen.get(rel, 0)
        seen[rel] = k + 1
        person = rel.split("/")[0]
        samples.append(FaceSample(img, pts, "wflw98", rel if k == 0 else f"{rel}#{k}", person))
    if not samples:
        raise DataError(f"{annotation_file} holds no faces")
    return samples
