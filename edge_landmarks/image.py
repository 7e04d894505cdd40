"""Input images: validation and conversion to the OpenCV BGR uint8 convention, and the face
crop the network sees (``cv2.warpAffine`` from the full-resolution image)."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .geometry import box_floats, square_affine

COLORS = ("bgr", "rgb")
MAX_PIXELS = 20000 * 20000


def load_image(image, color: str = "bgr") -> np.ndarray:
    """A file path, or a uint8 array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) in ``color``
    order (alpha ignored) -> contiguous BGR uint8 (H, W, 3).

    Raises:
        InputError: unreadable file, wrong dtype or shape, empty image, unknown color order."""
    if color not in COLORS:
        raise InputError(f"color must be one of {COLORS}, got {color!r}")
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise InputError(f"image file {path} not found")
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"cannot decode image file {path}: expected a PNG, JPEG or other format OpenCV reads")
        return img
    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a numpy uint8 image or a file path, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image (0..255), got dtype {image.dtype}; convert with "
                         "(np.clip(x, 0, 1) * 255).astype(np.uint8) for float images in [0, 1]")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise InputError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"the image is empty (shape {image.shape})")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise InputError(f"the image is {image.shape[1]}x{image.shape[0]}; at most {MAX_PIXELS} pixels are accepted")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if color == "rgb" else cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image[:, :, ::-1] if color == "rgb" else image)


def face_crop(image: np.ndarray, box: np.ndarray, size: int, enlarge: float) -> tuple[np.ndarray, np.ndarray]:
    """The network's view of a face: (crop (size, size, 3) uint8 BGR, 2x3 affine image -> crop).

    ``cv2.warpAffine`` with the exact (sub-pixel) affine of ``box_to_input_affine``, bilinear,
    edges replicated: the training crops' warp (``geometry.warp_to_input``), three channels (in
    the pipeline that is faster than warping BGRA, though not in a warm loop). Large downscales
    first shrink the crop's footprint with INTER_AREA, so a face many times the input size is not
    aliased (training faces were resampled at about 1:1).

    Raises:
        InputError: a bad box, or one that does not overlap the image (``geometry.check_box``)."""
    h, w = image.shape[:2]
    m = square_affine(*box_floats(box, (h, w)), size, enlarge)
    (a, b, c), (d, e, g) = m.tolist()
    det = a * e - b * d
    scale = math.sqrt(abs(det))
    f = 1 if scale >= 0.5 else max(1, int(1.0 / (scale * 1.5)))
    if f == 1:
        return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m
    # footprint: the crop's corners (one pixel out, for the bilinear neighbours) in image pixels
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    xs = [ia * (u - c) + ib * (v - g) for u, v in ((-1, -1), (size, -1), (-1, size), (size, size))]
    ys = [id_ * (u - c) + ie * (v - g) for u, v in ((-1, -1), (size, -1), (-1, size), (size, size))]
    x0, y0 = min(max(math.floor(min(xs)) - f, 0), w - 1), min(max(math.floor(min(ys)) - f, 0), h - 1)
    x1, y1 = max(min(math.ceil(max(xs)) + f + 1, w), x0 + 1), max(min(math.ceil(max(ys)) + f + 1, h), y0 + 1)
    sw, sh = max(1, (x1 - x0) // f), max(1, (y1 - y0) // f)
    roi = cv2.resize(image[y0:y1, x0:x1], (sw, sh), interpolation=cv2.INTER_AREA)
    fx, fy = (x1 - x0) / sw, (y1 - y0) / sh
    # m after (roi pixel -> image pixel): u = x0 + (i + 0.5) * fx - 0.5
    ox, oy = x0 + 0.5 * fx - 0.5, y0 + 0.5 * fy - 0.5
    m_roi = np.array([[a * fx, b * fy, a * ox + b * oy + c], [d * fx, e * fy, d * ox + e * oy + g]])
    return cv2.warpAffine(roi, m_roi, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), m


def to_network_input(crops: list[np.ndarray], color: str, mean: float, std: float) -> np.ndarray:
    """uint8 BGR crops -> float32 (B, 3, S, S) in the model's channel order, ``(x / 255 - mean) / std``
    (``cv2.dnn.blobFromImages``: scaling, channel swap and NCHW in one C++ pass)."""
    size = crops[0].shape[1::-1]
    return cv2.dnn.blobFromImages(crops, 1.0 / (255.0 * std), size, (255.0 * mean,) * 3, color == "rgb", False)


def shifted_copy(image: np.ndarray, shift, noise_sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` translated by ``shift`` (dx, dy) pixels (bilinear, edges replicated), plus Gaussian
    noise of ``noise_sigma`` grey levels: the copies of a still face that jitter is measured on
    (``benchmarks/report.py``, ``edge-landmarks eval-3d``)."""
    h, w = image.shape[:2]
    m = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if noise_sigma > 0:
        out = np.clip(np.rint(out + rng.normal(0.0, noise_sigma, out.shape)), 0, 255).astype(np.uint8)
    return out
