"""The one sample type every data loader yields."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError


@dataclass
class FaceSample:
    """One annotated face.

    Attributes:
        image_path: the image file; several samples may share one image.
        landmarks: (N, 2) float32, 0-based pixel coordinates of the image.
        layout: layout name (``"ibug68"``, ``"wflw98"``).
        name: a unique name of the face within its data set.
        person: identity label used for person-disjoint splits ("" when unknown).
    """

    image_path: Path
    landmarks: np.ndarray
    layout: str
    name: str
    person: str = ""

    def load_image(self) -> np.ndarray:
        """The image as an (H, W, 3) uint8 BGR array."""
        img = cv2.imread(str(self.image_path), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"cannot read image {self.image_path}: missing or not a decodable image")
        return img
