"""dlib's 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``) as a benchmark peer.

The predictor was trained on boxes of dlib's HOG frontal face detector and is only accurate from
boxes framed like those, so the tight landmark box of our protocol is first converted into a
detector-style box by ``to_dlib_box``.

    python -m benchmarks.peers.dlib68 --fit   # re-derive the conversion constants below
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence

import cv2
import numpy as np

from edge_landmarks.errors import BackendUnavailableError, BundleError
from edge_landmarks.geometry import check_box

from ..setup_peers import dlib_predictor_path

# Tight landmark box (w, h, centre c) -> dlib HOG detector box: a square of side DLIB_SCALE * s
# centred at c + DLIB_OFFSET * s, with s = (w + h) / 2. Fitted by `fit_box_conversion` (n=150):
# the detector's boxes (upsample 1, IoU > 0.3 with the tight box) on the first 150 ytf68 training
# faces in seeded order where it finds the face both as is and mirrored, 300 boxes. Medians: x
# -0.007 (set to 0: mirroring makes it 0 up to noise), y -0.117, scale 1.053; per-box spread
# 0.11 s in x (head yaw moves the tight box, not the detector's), 0.05 s in y, 0.09 in scale.
DLIB_OFFSET = (0.0, -0.117)
DLIB_SCALE = 1.053


def to_dlib_box(box: np.ndarray, offset: Sequence[float] = DLIB_OFFSET, scale: float = DLIB_SCALE) -> np.ndarray:
    """Square ``[x0, y0, x1, y1]`` box in the style of dlib's HOG detector from a tight landmark box."""
    b = check_box(box).astype(np.float64)
    s = 0.5 * ((b[2] - b[0]) + (b[3] - b[1]))
    cx = 0.5 * (b[0] + b[2]) + offset[0] * s
    cy = 0.5 * (b[1] + b[3]) + offset[1] * s
    half = 0.5 * scale * s
    return np.array([cx - half, cy - half, cx + half, cy + half])


def _import_dlib():
    try:
        import dlib
    except ImportError:
        raise BackendUnavailableError(
            "dlib is not installed: pip install dlib-bin face_recognition_models "
            "(or python benchmarks/setup_peers.py --install)") from None
    return dlib


class Dlib68:
    """dlib's 68-point predictor on a tight face box.

    Images are (H, W, 3) uint8 BGR; boxes are tight landmark boxes ``[x0, y0, x1, y1]`` in pixels.

    Raises:
        BackendUnavailableError: dlib is not installed.
        BundleError: ``face_recognition_models`` (the predictor file) is not installed.
    """

    name = "dlib68"

    def __init__(self, predictor_path: str | None = None):
        self._dlib = _import_dlib()
        path = predictor_path or dlib_predictor_path()
        if path is None:
            raise BundleError("shape_predictor_68_face_landmarks.dat not found: pip install face_recognition_models")
        self.predictor = self._dlib.shape_predictor(str(path))

    def landmarks68_from_dlib_box(self, image: np.ndarray, dlib_box: np.ndarray) -> np.ndarray:
        """(68, 2) image pixels from a box already in dlib's detector style (rounded to whole pixels:
        the predictor takes only integer ``dlib.rectangle``s)."""
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        l, t, r, b = (int(round(float(v))) for v in dlib_box)
        shape = self.predictor(rgb, self._dlib.rectangle(l, t, r, b))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def landmarks68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) iBUG-order landmarks in image pixels from a tight landmark box."""
        return self.landmarks68_from_dlib_box(image, to_dlib_box(box))


def _best_match(dets, tight: np.ndarray, min_iou: float) -> np.ndarray | None:
    best, best_iou = None, min_iou
    for d in dets:
        db = np.array([d.left(), d.top(), d.right(), d.bottom()], dtype=np.float64)
        ix = max(0.0, min(db[2], tight[2]) - max(db[0], tight[0]))
        iy = max(0.0, min(db[3], tight[3]) - max(db[1], tight[1]))
        inter = ix * iy
        union = np.prod(db[2:] - db[:2]) + np.prod(tight[2:] - tight[:2]) - inter
        if inter / union > best_iou:
            best, best_iou = db, inter / union
    return best


def fit_box_conversion(samples, n: int = 150, seed: int = 0, upsample: int = 1, min_iou: float = 0.3) -> dict:
    """Fit ``DLIB_OFFSET`` and ``DLIB_SCALE`` from dlib's detector boxes on ``samples``.

    Takes faces in a seeded random order until the detector (with ``upsample``) has found ``n``
    boxes overlapping the tight landmark box by IoU > ``min_iou``; every face is used as is and
    mirrored. Returns the medians of the per-face ratios and their spreads.
    """
    dlib = _import_dlib()
    det = dlib.get_frontal_face_detector()
    rel = []
    for i in np.random.default_rng(seed).permutation(len(samples)):
        s = samples[i]
        rgb = cv2.cvtColor(s.load_image(), cv2.COLOR_BGR2RGB)
        width = rgb.shape[1]
        pts = np.asarray(s.landmarks, dtype=np.float64)
        views = [(rgb, pts), (np.ascontiguousarray(rgb[:, ::-1]), np.c_[width - 1 - pts[:, 0], pts[:, 1]])]
        found = []
        for img, p in views:
            tight = np.r_[p.min(0), p.max(0)]
            db = _best_match(det(img, upsample), tight, min_iou)
            if db is None:
                break
            sz = 0.5 * ((tight[2] - tight[0]) + (tight[3] - tight[1]))
            found.append([(0.5 * (db[0] + db[2] - tight[0] - tight[2])) / sz,
                          (0.5 * (db[1] + db[3] - tight[1] - tight[3])) / sz,
                          0.5 * ((db[2] - db[0]) + (db[3] - db[1])) / sz])
        if len(found) == 2:
            rel.extend(found)
        if len(rel) >= 2 * n:
            break
    rel = np.asarray(rel)
    med, mean, spread = np.median(rel, 0), rel.mean(0), rel.std(0)
    return {"offset": (float(med[0]), float(med[1])), "scale": float(med[2]),
            "mean": tuple(float(v) for v in mean), "spread": tuple(float(v) for v in spread), "boxes": len(rel)}


def main() -> None:
    from edge_landmarks.data import load_ytf68
    from edge_landmarks.data.split import train_val
    from edge_landmarks.paths import shared_data_dir

    ap = argparse.ArgumentParser(description="Fit the tight-box -> dlib-box conversion on ytf68 training faces.")
    ap.add_argument("--fit", action="store_true", help="fit (else print the stored constants)")
    ap.add_argument("--data", default=str(shared_data_dir() / "ytf68"))
    ap.add_argument("-n", type=int, default=150)
    args = ap.parse_args()
    if not args.fit:
        print({"offset": DLIB_OFFSET, "scale": DLIB_SCALE})
        return
    train, _ = train_val(load_ytf68(args.data))
    print(fit_box_conversion(train, n=args.n))


if __name__ == "__main__":
    main()
