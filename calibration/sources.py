"""Where calibration faces come from: the ytf68 training people (ground-truth boxes), a folder
of images, or a video file (faces located by a callable, normally the bundle's fp32 model
through the runtime)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.errors import DataError, InputError
from edge_landmarks.geometry import tight_box

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}

# locate(image_bgr) -> (face box [x0, y0, x1, y1], 68 landmarks (68, 2)) or None when no face
Locator = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray] | None"]


def iter_faces(source: str | Path, locate: Locator | None = None, video_stride: int = 5,
               max_frames: int = 5000) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(name, image, box, landmarks68)`` per face.

    ``source``: a ytf68-format folder (``images/`` + ``landmarks.csv``; only the training people
    are used, so validation faces never calibrate), a folder of images, or a video file (every
    ``video_stride``-th frame). Folders and videos need ``locate``.
    """
    src = Path(source)
    if (src / "landmarks.csv").is_file():
        train, _ = train_val(load_ytf68(src))
        for s in train:
            yield s.name, s.load_image(), tight_box(s.landmarks), s.landmarks
        return
    if locate is None:
        raise InputError(f"calibrating from {src} needs a face locator (a ytf68 folder has its own boxes)")
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found under {src}")
        for p in files:
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is not None and (found := locate(img)) is not None:
                yield str(p.relative_to(src)), img, *found
        return
    if src.is_file() and src.suffix.lower() in VIDEO_SUFFIXES:
        cap = cv2.VideoCapture(str(src))
        if not cap.isOpened():
            raise DataError(f"cannot open video {src}")
        try:
            for i in range(max_frames):
                ok, frame = cap.read()
                if not ok:
                    break
                if i % video_stride == 0 and (found := locate(frame)) is not None:
                    yield f"{src.name}#{i}", frame, *found
        finally:
            cap.release()
        return
    raise DataError(f"calibration source {src} is neither a ytf68 folder, a folder of images, nor a video "
                    f"({', '.join(sorted(VIDEO_SUFFIXES))})")


def runtime_locator(rt) -> Locator:
    """``locate`` through a Runtime's own no-box path (its 68-point layout frames the face)."""
    rt.set_layout("ibug68")

    def locate(image: np.ndarray):
        faces = rt.detect(image)
        return (faces[0].box, faces[0].landmarks) if faces else None

    return locate
