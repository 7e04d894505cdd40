"""Loader for the ytf68 layout: ``images/`` plus ``landmarks.csv`` (image,x0,y0,...,x67,y67)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..layouts import layout_for_count
from .sample import FaceSample

LABEL_X_OFFSET = 1.2
"""Pixels by which ytf68's x coordinates sit right of the mirror-symmetric convention (pixel
centres at integers). Measured: a flip-symmetric model trained with plain flips is off by
-1.15 px on the images and +1.24 px on their mirror images (training people). Flip
augmentation must mirror ``x - LABEL_X_OFFSET``, or half the samples teach the opposite offset
(see ``export.augment.flip_source``)."""


def person_of(image_name: str) -> str:
    """Identity of a ytf68 image: the file stem up to its last underscore."""
    stem = Path(image_name).stem
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def load_ytf68(root: str | Path) -> list[FaceSample]:
    """Read a ytf68-format folder; one FaceSample per CSV row (rows may share an image).

    Raises:
        DataError: missing folder or CSV, a malformed header or row, or a missing image.
    """
    root = Path(root)
    csv_path = root / "landmarks.csv"
    if not csv_path.is_file():
        raise DataError(f"{root} is not a ytf68-format folder: {csv_path} not found")
    samples: list[FaceSample] = []
    seen: dict[str, int] = {}
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "image" or len(header) % 2 != 1 or len(header) < 3:
            raise DataError(f"{csv_path}: expected a header 'image,x0,y0,...', got {header!r}")
        n = (len(header) - 1) // 2
        layout = layout_for_count(n)
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(f"{csv_path}:{line_no}: expected {len(header)} fields, got {len(row)}")
            try:
                pts = np.asarray(row[1:], dtype=np.float32).reshape(n, 2)
            except ValueError as e:
                raise DataError(f"{csv_path}:{line_no}: non-numeric coordinate ({e})") from None
            img = root / "images" / row[0]
            if not img.is_file():
                raise DataError(f"{csv_path}:{line_no}: image {img} not found")
            k = seen.get(row[0], 0)
            seen[row[0]] = k + 1
            name = row[0] if k == 0 else f"{row[0]}#{k}"
            samples.append(FaceSample(img, pts, layout, name, person_of(row[0])))
    if not samples:
        raise DataError(f"{csv_path} holds no faces")
    return samples
