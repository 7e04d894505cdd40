"""``Runtime``: load a bundle, pick the fastest installed backend, and turn images into typed
``Face`` results (2D and 3D landmarks, head pose, visibility) identically on every backend.

Pipeline per face: a square crop around the face box (cv2.warpAffine from the full-resolution
image) -> the exported network (ONNX Runtime, OpenVINO or TFLite; fp32 or int8) -> the float
tail and the way back to image pixels (``decode.py`` in numpy, or compiled with the network:
``Backend.decoder``). Without boxes, the model is its own
localiser: it starts from the whole frame and re-frames from its own landmarks.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from typing import Callable, NamedTuple

import numpy as np

from .backends import get_backend
from .bundle import Bundle
from .decode import FaceDecoding, PointSet
from .errors import InputError
from .geometry import apply_affine, compose_affine, invert_affine, tight_box
from .image import face_crop, load_image
from .motion import MotionSettings, crop_gray, crop_motion
from .results import Face, Pose
from .selection import Timing, choose, pick
from .scan import ScanSettings, group_boxes, merge, window_boxes
from .smoothing import OneEuroFilter, OneEuroSettings

PRECISIONS = ("fp32", "fp16", "int8")
FRAMING_LAYOUT = "ibug68"  # the network was trained on crops framed from this layout's tight box
REFRAME_TOLERANCE = 0.04  # video: re-frame from the landmarks when they leave the crop's box by this share of its size
FLOW_POINTS = slice(17, 68)  # video: the inner face of the framing layout (no jaw contour on the background) is tracked


class Runtime:
    """Facial landmarks on the fastest backend of this device.

    Args:
        bundle: a bundle folder or .zip, or None for the model shipped in the package.
        backend: "auto" (measure and pick), or "onnxruntime", "openvino", "tflite".
        precision: "auto", "fp32" or "int8" (what the bundle holds).
        layout: "ibug68", "wflw98", mesh vertex ids (N,), or barycentric points (N, 4)
            ``[triangle_id, w0, w1, w2]`` on the canonical face.
        threads: inference threads (default: all cores).
        mode: "image", or "video": ``detect(frame)`` without boxes then tracks (see ``track``).
        color: channel order of numpy inputs, "bgr" (OpenCV) or "rgb".
        detector: how ``detect`` finds faces when no boxes are given. None: one loosely framed
            face, found by the model's own localiser. "scan": several faces, by the model's face
            score on a grid of windows (``edge_landmarks.scan``: no download, for stills). Or a
            callable ``image_bgr -> list of [x0, y0, x1, y1]`` (your detector); its boxes may be
            loose (each face is re-framed once).
        score_threshold: faces scoring below it are dropped (and end a track).
        smoothing: One Euro settings for ``track``; None disables smoothing.
        motion: optical-flow settings for ``track`` (``edge_landmarks.motion``): the crop follows
            the face's motion between frames and the filter smooths in the face's frame; None:
            frame each crop from the previous landmarks alone.
        use_cache: reuse the cached backend choice for this device.
    """

    def __init__(self, bundle=None, backend: str = "auto", precision: str = "auto", layout="ibug68",
                 threads: int | None = None, mode: str = "image", color: str = "bgr",
                 detector: Callable[[np.ndarray], list] | str | None = None, score_threshold: float = 0.5,
                 smoothing: OneEuroSettings | None = OneEuroSettings(), use_cache: bool = True,
                 motion: MotionSettings | None = MotionSettings()):
        if mode not in ("image", "video"):
            raise InputError(f"mode must be 'image' or 'video', got {mode!r}")
        if not (detector is None or detector == "scan" or callable(detector)):
            raise InputError(f"detector must be None, 'scan' or a callable image -> boxes, got {detector!r}")
        if precision != "auto" and precision not in PRECISIONS:
            raise InputError(f"precision must be 'auto' or one of {PRECISIONS}, got {precision!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InputError(f"threads must be a positive integer or None, got {threads!r}")
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
        self.threads = threads or os.cpu_count() or 1
        self.mode, self.color, self.detector = mode, color, detector
        self.score_threshold = score_threshold
        self.timings: list[Timing] = []
        if backend == "auto" or precision == "auto":
            backend, precision = self._choose(backend, precision, use_cache)
        else:
            get_backend(backend)
            self.bundle.entry(backend, precision)
        self.backend, self.precision = backend, precision
        self._model = get_backend(backend)(self.bundle.entry(backend, precision).path, self.threads)
        self._framing = self.bundle.tail.point_set(self.bundle.face, FRAMING_LAYOUT)
        self.set_layout(layout)
        self._smoothing = smoothing
        self._motion = motion
        self._track_lock = threading.Lock()
        self._track: dict | None = None

    def _choose(self, backend: str, precision: str, use_cache: bool) -> tuple[str, str]:
        if backend != "auto":
            get_backend(backend)  # names the pip extra when missing
        _, _, self.timings = choose(self.bundle, self.threads, use_cache)
        ok = [t for t in self.timings if t.accepted and backend in ("auto", t.backend) and precision in ("auto", t.precision)]
        if not ok:
            raise InputError(f"no installed model matches backend={backend!r}, precision={precision!r}; "
                             f"the bundle has {sorted({f'{m.backend}/{m.precision}' for m in self.bundle.models})}")
        best = pick(self.bundle, ok)
        return best.backend, best.precision

    def set_layout(self, layout) -> None:
        """Switch the returned landmark set (a bundled layout name or custom canonical points)."""
        points: PointSet = (self._framing if isinstance(layout, str) and layout == FRAMING_LAYOUT
                            else self.bundle.tail.point_set(self.bundle.face, layout))
        sets = [self._framing] if points is self._framing else [self._framing, points]
        self._decode = self._model.decoder(self.bundle.input, self.bundle.tail, sets)
        self.layout = layout if isinstance(layout, str) else "custom"

    @property
    def input_size(self) -> int:
        return self.bundle.input.size

    # -- inference -------------------------------------------------------------------------
    def _infer(self, image: np.ndarray, boxes: list[np.ndarray]) -> list[_Crop]:
        """The network and its float tail on each box's crop."""
        spec = self.bundle.input
        crops, affines = [], []
        for b in boxes:
            c, m = face_crop(image, b, spec.size, spec.enlarge)
            crops.append(c)
            affines.append(m)
        return [_Crop(d, m, c) for d, c, m in zip(self._decode(crops, affines), crops, affines)]

    def _refine(self, image: np.ndarray, boxes: list[np.ndarray], passes: int) -> list[_Crop]:
        out = self._infer(image, boxes)
        for _ in range(passes - 1):
            out = self._infer(image, [r.box() for r in out])
        return out

    def _face(self, r: _Crop) -> Face:
        d = r.decoding
        landmarks, camera, visibility = d.points[-1]
        return Face(box=d.box, landmarks=landmarks, landmarks_3d=camera, visibility=visibility,
                    pose=Pose(*d.angles, d.rotation, d.translation), focal_length=d.focal,
                    camera_center=d.camera_center, score=d.score, layout=self.layout)

    def detect(self, image, boxes=None) -> list[Face]:
        """Faces in ``image`` (file path or uint8 array, see ``image.load_image``).

        ``boxes``: face boxes ``[x0, y0, x1, y1]`` in image pixels (e.g. from a face detector);
        each is framed as given. Without boxes: the ``detector`` hook's boxes if set, else one
        loosely framed face found by the model itself; in video mode, ``track``. Faces scoring
        under ``score_threshold`` are dropped, so an image without a face gives ``[]``.

        Raises:
            InputError: a bad image or box.
        """
        img = load_image(image, self.color)
        if boxes is None:
            if self.mode == "video":
                return self.track(img)
            return self._find(img)
        if isinstance(boxes, np.ndarray) and boxes.ndim == 1:
            raise InputError("boxes must be a list of [x0, y0, x1, y1] boxes (an (F, 4) array), got one flat array")
        boxes = list(boxes)  # each checked against the image when it is cropped
        if not boxes:
            return []
        faces = [self._face(r) for r in self._infer(img, boxes)]
        return [f for f in faces if f.score >= self.score_threshold]

    def _scan(self, img: np.ndarray, settings: ScanSettings = ScanSettings(), batch: int = 256) -> list[Face]:
        windows = window_boxes(*img.shape[:2], settings)
        if len(windows) > settings.max_windows:
            raise InputError(f"scanning this {img.shape[1]}x{img.shape[0]} image needs {len(windows)} windows "
                             f"(limit {settings.max_windows}); downscale it or pass boxes")
        boxes, scores = [], []
        for i in range(0, len(windows), batch):
            for r in self._infer(img, list(windows[i:i + batch])):
                boxes.append(r.box())
                scores.append(r.decoding.score)
        keep = merge(np.asarray(boxes), np.asarray(scores), settings)
        if len(keep) == 0:
            return []
        groups = group_boxes(np.asarray(boxes)[keep], settings)
        faces = [self._face(r) for r in self._refine(img, list(groups), 3)]
        faces = [f for f in faces if f.score >= max(self.score_threshold, settings.face_score)]
        final = merge(np.asarray([f.box for f in faces]), np.asarray([f.score for f in faces]),
                      replace(settings, score=0.0)) if faces else []
        return [faces[k] for k in final]

    def _find(self, img: np.ndarray) -> list[Face]:
        if self.detector == "scan":
            return self._scan(img)
        if self.detector is not None:
            boxes = list(self.detector(img))  # each checked against the image when it is cropped
            if not boxes:
                return []
            faces = [self._face(r) for r in self._refine(img, boxes, 2)]
        else:
            h, w = img.shape[:2]
            side = max(w, h) / self.bundle.input.enlarge
            whole = np.array([w / 2 - side / 2, h / 2 - side / 2, w / 2 + side / 2, h / 2 + side / 2], np.float32)
            faces = [self._face(self._refine(img, [whole], 3)[0])]
        return [f for f in faces if f.score >= self.score_threshold]

    # -- video -----------------------------------------------------------------------------
    def reset_track(self) -> None:
        with self._track_lock:
            self._track = None

    def track(self, frame, timestamp: float | None = None) -> list[Face]:
        """Follow one face through a video: each frame is framed from the previous frame (no
        detection per frame); when the score drops under ``score_threshold`` the face is found
        again in the same frame. With ``motion``, the crop moves with the face's optical flow
        since the previous frame, so a still or rigidly moving face is seen framed the same way
        in every frame, and the One Euro filter (``smoothing``) is carried along that motion
        before it smooths. The crop is re-framed from the smoothed landmarks when they move or
        resize by more than ``REFRAME_TOLERANCE`` of its box, so the landmarks' noise is not
        fed back into the crop. ``timestamp`` in seconds (default: 30 frames per second)."""
        img = load_image(frame, self.color)
        with self._track_lock:
            st = self._track
            face = inferred = motion = None
            if st is not None:
                motion = self._follow(img, st)
                inferred = self._infer(img, [st["box"]])[0]
                face = self._face(inferred)
                if face.score < self.score_threshold:
                    face = inferred = motion = None
            if face is None:
                found = self._find(img)
                if not found:
                    self._track = None
                    return []
                face = max(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
                st = self._track = {"filters": None, "t": None}
            t = timestamp if timestamp is not None else (st["t"] + 1 / 30 if st["t"] is not None else 0.0)
            dt = t - st["t"] if st["t"] is not None else 0.0
            if self._smoothing:
                face = self._smooth(face, st, dt, motion)
            reframed = "box" not in st or _moved(st["box"], face.box, REFRAME_TOLERANCE)
            if reframed:
                st["box"] = face.box
            st["t"] = t
            st["flow"] = self._flow_reference(img, st["box"], inferred, reframed)
            return [face]

    def _follow(self, img: np.ndarray, st: dict) -> np.ndarray | None:
        """Image-space 2x3 motion of the face since the previous frame (moving ``st["box"]`` with
        it), or None without ``motion``, a reference crop, or a good fit."""
        if self._motion is None or st.get("flow") is None:
            return None
        prev_gray, points = st["flow"]
        spec = self.bundle.input
        crop, a = face_crop(img, st["box"], spec.size, spec.enlarge)
        m = crop_motion(prev_gray, crop_gray(crop), points, self._motion)
        if m is None:
            return None
        m = compose_affine(invert_affine(a), m, a)
        st["box"] = tight_box(apply_affine(m, st["box"].reshape(2, 2)))
        return m

    def _flow_reference(self, img: np.ndarray, box: np.ndarray, inferred: _Crop | None, reframed: bool):
        """(grey crop at ``box``, tracked points in its pixels) for the next frame's flow: this
        frame's inference crop, or after re-framing a new crop at ``box``; None without ``motion`` or
        when the face was just found again (the next frame then frames from the landmarks)."""
        if self._motion is None or inferred is None:
            return None
        pixels, a = inferred.crop, inferred.affine
        if reframed:
            spec = self.bundle.input
            pixels, a = face_crop(img, box, spec.size, spec.enlarge)
        points = apply_affine(a, inferred.decoding.points[0][0])
        return crop_gray(pixels), np.ascontiguousarray(points[FLOW_POINTS][::self._motion.step], np.float32)

    def _smooth(self, face: Face, st: dict, dt: float, motion: np.ndarray | None) -> Face:
        if st["filters"] is None:
            st["filters"] = {k: OneEuroFilter(self._smoothing) for k in ("lm", "lm3d", "angles", "t", "box")}
        f = st["filters"]
        if motion is not None:
            f["lm"].move(lambda x: apply_affine(motion, x))
            f["box"].move(lambda x: apply_affine(motion, x.reshape(2, 2)))
        size = float(max(face.box[2] - face.box[0], face.box[3] - face.box[1]))
        lm = f["lm"](face.landmarks, dt, size)
        lm3d = f["lm3d"](face.landmarks_3d, dt, 150.0)
        yaw, pitch, roll = f["angles"](np.array([face.pose.yaw, face.pose.pitch, face.pose.roll]), dt, 57.3)
        trans = f["t"](face.pose.translation, dt, 150.0)
        box = f["box"](face.box, dt, size)
        pose = Pose(float(yaw), float(pitch), float(roll), rotation_from_euler(yaw, pitch, roll), trans.astype(np.float32))
        return Face(box.astype(np.float32), lm.astype(np.float32), lm3d.astype(np.float32), face.visibility, pose,
                    face.focal_length, face.camera_center, face.score, face.layout)


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Ry(yaw) @ Rx(pitch) @ Rz(roll), degrees, camera axes (inverse of ``euler_yaw_pitch_roll``)."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return (ry @ rx @ rz).astype(np.float32)


def _moved(old: np.ndarray, new: np.ndarray, tolerance: float) -> bool:
    """Whether box ``new`` differs from ``old`` by more than ``tolerance`` of old's size (centre or side)."""
    size = max(float(old[2] - old[0]), float(old[3] - old[1]), 1e-6)
    shift = np.abs((new[:2] + new[2:]) - (old[:2] + old[2:])).max() / 2
    resize = abs(max(float(new[2] - new[0]), float(new[3] - new[1])) - size)
    return max(shift, resize) > tolerance * size


class _Crop(NamedTuple):
    """One face crop's decoding (the framing layout's points first, then the requested layout's
    when it is another), the image -> crop affine, and the crop (uint8 BGR)."""

    decoding: FaceDecoding
    affine: np.ndarray
    crop: np.ndarray

    def box(self) -> np.ndarray:
        """Tight box of the framing layout's landmarks, image pixels (how the next crop is framed)."""
        return self.decoding.box


__all__ = ["Runtime", "Face", "Pose"]
