"""MediaPipe Face Mesh (``face_landmark.tflite``, 468 points) as a benchmark peer, given a face box.

Runs only the landmark model, with the crop MediaPipe's own pipeline makes from a detection: a
square of 1.5x the box's long side centred on the box (``RectTransformationCalculator`` with
``scale 1.5, square_long``), resampled to 192 x 192, RGB in [0, 1]. The roll alignment by eye
keypoints that MediaPipe adds is left out: the boxes of our protocol carry no keypoints.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_landmarks.errors import BackendUnavailableError, BundleError
from edge_landmarks.geometry import apply_affine, check_box, invert_affine

from ..setup_peers import mediapipe_model_path

INPUT_SIZE = 192
CROP_SCALE = 1.5
NUM_MESH_POINTS = 468

MP468_TO_IBUG68 = np.array([
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 397, 361, 323, 454, 356,  # jaw 0-16
    70, 63, 105, 66, 107,                                                           # right brow 17-21
    336, 296, 334, 293, 300,                                                        # left brow 22-26
    168, 197, 5, 4,                                                                 # nose bridge 27-30
    75, 97, 2, 326, 305,                                                            # nostrils 31-35
    33, 160, 158, 133, 153, 144,                                                    # right eye 36-41
    362, 385, 387, 263, 373, 380,                                                   # left eye 42-47
    61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91,                             # outer lip 48-59
    78, 82, 13, 312, 308, 317, 14, 87,                                              # inner lip 60-67
], dtype=np.int64)
"""MediaPipe-468 vertex of each iBUG-68 point (0-based, iBUG order).

After P. Yan, Mediapipe_2_Dlib_Landmarks (https://github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks,
``mp2dlib.py``), where five iBUG points average two vertices (jaw 3, 4, 12; nose 27, 28); here the
first vertex of each pair stands alone (averaging the pairs gives about 0.2 points lower NME, most
of it on the jaw). Checked on ytf68 faces: every point lands on its feature. The jaw is approximate:
iBUG's contour is a silhouette that slides with head pose, mesh vertices are fixed on the face.
"""

IBUG51 = np.arange(17, 68)
"""iBUG indices of the 51 inner points (no jaw contour)."""


def _interpreter(model_path: Path, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise BackendUnavailableError(
                "no TFLite interpreter: pip install ai-edge-litert (or tflite-runtime)") from None
    return Interpreter(model_path=str(model_path), num_threads=threads)


def crop_affine(box: np.ndarray) -> np.ndarray:
    """2x3 affine from image pixels to the 192 px crop, as MediaPipe's ``ImageToTensorCalculator``
    maps its region: the region's edges go to 0 and 192, its centre to 96."""
    b = check_box(box).astype(np.float64)
    side = CROP_SCALE * max(b[2] - b[0], b[3] - b[1])
    s = INPUT_SIZE / side
    cx, cy = 0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])
    half = INPUT_SIZE / 2.0
    return np.array([[s, 0.0, half - s * cx], [0.0, s, half - s * cy]])


class MediaPipeFaceMesh:
    """MediaPipe's 468-point face landmark model on a given face box.

    Images are (H, W, 3) uint8 BGR; boxes ``[x0, y0, x1, y1]`` in pixels of that image.

    Args:
        model_path: ``face_landmark.tflite``; default: the one ``benchmarks/setup_peers.py`` fetched.
        threads: interpreter threads.

    Raises:
        BundleError: the model file is missing or has unexpected tensors.
        BackendUnavailableError: neither ai-edge-litert nor tflite-runtime is installed.
    """

    name = "mediapipe-facemesh"

    def __init__(self, model_path: str | Path | None = None, threads: int = 1):
        path = Path(model_path) if model_path is not None else mediapipe_model_path()
        if not path.is_file():
            raise BundleError(f"{path} not found; run `python benchmarks/setup_peers.py` to fetch it")
        self.model_path = path
        self.interpreter = _interpreter(path, threads)
        self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()
        if len(inp) != 1 or tuple(inp[0]["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise BundleError(f"{path}: expected one (1, 192, 192, 3) input, got {[d['shape'] for d in inp]}")
        self._input = inp[0]["index"]
        outs = {int(np.prod(d["shape"])): d["index"] for d in self.interpreter.get_output_details()}
        if 3 * NUM_MESH_POINTS not in outs or 1 not in outs:
            raise BundleError(
                f"{path}: expected a 1404-value mesh output and a 1-value face flag, got sizes {sorted(outs)}")
        self._mesh_out = outs[3 * NUM_MESH_POINTS]
        self._flag_out = outs[1]

    def prepare(self, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(model input (1, 192, 192, 3) float32 RGB in [0, 1], the 2x3 image -> crop affine)."""
        m = crop_affine(box)
        crop = cv2.warpAffine(image, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255.0
        return x, m

    def model_call(self, x: np.ndarray) -> np.ndarray:
        """Run the interpreter alone on a prepared input; returns (468, 3) crop pixels."""
        self.interpreter.set_tensor(self._input, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._mesh_out).reshape(NUM_MESH_POINTS, 3).copy()

    def face_score(self) -> float:
        """Face presence probability of the last call (sigmoid of the model's face flag)."""
        logit = float(self.interpreter.get_tensor(self._flag_out).reshape(()))
        return float(1.0 / (1.0 + np.exp(-logit)))

    def mesh(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(468, 3) float64 mesh: x, y in image pixels, z (relative depth) in the same pixel scale."""
        x, m = self.prepare(image, box)
        pts = self.model_call(x).astype(np.float64)
        out = np.empty_like(pts)
        out[:, :2] = apply_affine(invert_affine(m), pts[:, :2])
        out[:, 2] = pts[:, 2] / m[0, 0]
        return out

    def landmarks68(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) iBUG-order landmarks in image pixels, picked from the mesh by ``MP468_TO_IBUG68``."""
        return self.mesh(image, box)[MP468_TO_IBUG68, :2]

    def landmarks51(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(51, 2) iBUG points 17-67 (no jaw contour) in image pixels."""
        return self.landmarks68(image, box)[IBUG51]
