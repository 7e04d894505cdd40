"""The float tail of the deployed model (numpy): network features -> 3D canonical shape, head
pose and camera -> projected landmarks in input pixels, plus visibility.

The exported network stops at its feature vector; everything after it stays in float32 here,
on every backend, because it is tiny and numerically delicate (perspective projection, the
affine back to image pixels). Any point of the canonical face is decoded the same way, so
custom layouts need no re-export: a point's canonical position is linear in the shape
coefficients, ``mean + coeffs @ basis``, with bases for the dense mesh and, learned separately,
for each bundled layout.

Frames (the same as the training side, ``export/models/camera.py``): canonical mm with x to the
subject's left, y up, z to the viewer; camera space mm in OpenCV axes (x right, y down, z
forward): ``X_cam = R @ diag(1, -1, -1) @ X_canonical + t``; a frontal face has R = I.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import cv2
import numpy as np

from .canonical import CanonicalFace
from .errors import BundleError, InputError

# dot products along the last axis: numpy 2's vecdot is several times cheaper than einsum on a few faces
_rowdot = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("...d,...d->...", a, b))
CANONICAL_TO_CAMERA = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
POSE_FIELDS = 11  # rot6d (6), centre xy (2), log depth, log focal, score logit
HEAD_POSE_FIELDS = 6  # optional: the reported head rotation (rot6d) of a student with a pose head
NON_FINITE = "the model produced non-finite or out-of-range outputs for this input"


def point_encoding(points: np.ndarray) -> np.ndarray:
    """Canonical positions (N, 3) mm -> (N, 27): per 50 mm, then sines and cosines at four octaves
    (the twin of ``export/models/student.py``'s ``point_encoding``)."""
    x = np.asarray(points, np.float32) / 50.0
    a = (x[:, :, None] * (2.0 ** np.arange(4, dtype=np.float32) * np.float32(math.pi / 2))).reshape(len(x), -1)
    return np.concatenate([x, np.sin(a), np.cos(a)], axis=1)


@dataclass(frozen=True)
class Refine:
    """The student's local refinement: the network's output after its F features is a map of
    ``channels`` x ``grid`` x ``grid`` values (``stride`` input pixels per cell); each point reads
    it bilinearly where it first landed and moves its canonical position by ``scale`` mm times
    the read values through weights (E + 1, 3) that the read-out network (``weights``,
    ``biases``: linear layers with ReLU between) computes from the point's canonical position."""

    channels: int
    grid: int
    stride: int
    scale: float
    weights: list
    biases: list

    @property
    def size(self) -> int:
        return self.channels * self.grid * self.grid

    def readout(self, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Read-out weights (N, 3, E) and bias (N, 3) of points at canonical ``mean`` (N, 3), in mm."""
        h = point_encoding(mean)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                np.maximum(h, 0, out=h)
        h = (self.scale * h).reshape(len(mean), self.channels + 1, 3).astype(np.float32)
        return np.ascontiguousarray(h[:, :-1].transpose(0, 2, 1)), np.ascontiguousarray(h[:, -1])

    def offsets(self, refine_map: np.ndarray, cells: np.ndarray, points: "PointSet") -> np.ndarray:
        """Canonical offsets (B, N, 3) mm of ``points`` read at ``cells`` (B, N, 2), map cells with
        cell centres at integers (input pixel ``p`` is cell ``(p + 0.5) / stride - 0.5``), from the
        flat map (B, G * G * E), row by row, channels last.

        The map is read with ``cv2.remap`` (bilinear, edges replicated: ``grid_sample`` with
        ``align_corners=False`` and ``padding_mode="border"``, as in training), whose weights are
        fixed-point, 1/32 of a cell (0.25 input pixels at stride 8): 0.19 mm off the exact read on
        a sample face, and the same validation NME (docs/DEPLOYED.md). It takes a third of the time of
        the exact gather in numpy, whose dozen operations run three times slower right after the
        network than in a warm loop."""
        b, n = cells.shape[:2]
        g, e = self.grid, self.channels
        maps = refine_map.reshape(b, g, g, e)
        v = [cv2.remap(maps[i], cells[i][None], None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
             for i in range(b)]  # (1, N, E) each
        out = _rowdot((v[0] if b == 1 else np.stack(v)).reshape(b, n, 1, e), points.readout)
        out += points.readout_bias
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"refine_scalars": np.array([self.channels, self.grid, self.stride, self.scale], np.float64)}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"refine_w{i}"], out[f"refine_b{i}"] = w, b
        return out

    @classmethod
    def from_arrays(cls, z) -> "Refine | None":
        if "refine_scalars" not in z:
            return None
        channels, grid, stride, scale = (float(v) for v in z["refine_scalars"])
        n = sum(1 for k in z if k.startswith("refine_w"))
        return cls(int(channels), int(grid), int(stride), scale,
                   [np.asarray(z[f"refine_w{i}"], np.float32) for i in range(n)],
                   [np.asarray(z[f"refine_b{i}"], np.float32) for i in range(n)])


@dataclass(frozen=True)
class PointSet:
    """Decoding rows for one set of N query points: canonical ``mean`` (N, 3), ``basis``
    (K, N, 3) and unit ``normals`` (N, 3), all float32, and with local refinement their
    ``readout`` (N, 3, E) and ``readout_bias`` (N, 3) (``Refine.readout``)."""

    mean: np.ndarray
    basis: np.ndarray
    normals: np.ndarray
    readout: np.ndarray | None = None
    readout_bias: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.mean)


@dataclass(frozen=True)
class Decoded:
    """Batch of decoded faces, in the network input's pixel frame.

    ``landmarks`` (B, N, 2) input pixels; ``canonical`` (B, N, 3) mm; ``camera`` (B, N, 3) mm,
    OpenCV camera axes of the input crop; ``rotation`` (B, 3, 3) the head pose (with a pose head
    its own rotation, otherwise the one the points are projected with); ``translation`` (B, 3) mm;
    ``focal`` (B,) input pixels; ``visibility`` (B, N) in [0, 1]; ``score`` (B,) in [0, 1];
    ``angles`` (B, 3) yaw, pitch, roll of ``rotation`` in degrees (``euler_yaw_pitch_roll``)."""

    landmarks: np.ndarray
    canonical: np.ndarray
    camera: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    focal: np.ndarray
    visibility: np.ndarray
    score: np.ndarray
    angles: np.ndarray

    def faces(self, affines: list[np.ndarray], size: int, *more: "Decoded") -> list["FaceDecoding"]:
        """The batch face by face, in the pixels of the images the crops (``size`` pixels) were
        cut from with ``affines`` (2x3, image -> crop, one per face), with the points of this set
        and of ``more`` (the same faces decoded for other point sets)."""
        sets, centre, out = (self, *more), (size - 1) / 2, []
        for i, m in enumerate(affines):
            inverse = cv2.invertAffineTransform(np.asarray(m, np.float64))
            (a, b, tx), (c, e, ty) = inverse.tolist()
            points = tuple((cv2.transform(d.landmarks[i].reshape(-1, 1, 2), inverse).reshape(-1, 2), d.camera[i],
                            d.visibility[i]) for d in sets)
            out.append(FaceDecoding(points, _bounds(points[0][0]), self.rotation[i], self.translation[i],
                                    float(self.focal[i]) * math.sqrt(abs(a * e - b * c)),
                                    np.array([(a + b) * centre + tx, (c + e) * centre + ty], np.float32),
                                    float(self.score[i]), tuple(self.angles[i].tolist())))
        return out


class FaceDecoding(NamedTuple):
    """One decoded face in the pixels of the image its crop was cut from, as ``Backend.decoder``
    gives it: what ``Runtime`` turns into a ``Face`` in as few Python operations as it can (a
    named tuple of views and floats). ``points``: for each point set decoded, (landmarks (N, 2)
    image pixels, camera points (N, 3) mm, visibility (N,)); ``box`` (4,) the first set's tight
    box, image pixels; ``focal`` and ``camera_center`` (2,) the virtual camera's, image pixels;
    ``angles`` (yaw, pitch, roll) in degrees; the rest as in ``Decoded``. Arrays are float32."""

    points: tuple
    box: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    focal: float
    camera_center: np.ndarray
    score: float
    angles: tuple


@dataclass(frozen=True)
class Tail:
    """Head weights (F -> K + 11, or K + 17 with a pose head), shape bases and camera priors of a
    student model."""

    weight: np.ndarray  # (F, K + 11) or (F, K + 17)
    bias: np.ndarray  # (K + 11,) or (K + 17,)
    input_size: int
    depth0: float
    focal0: float
    dense_mean: np.ndarray  # (V, 3)
    dense_basis: np.ndarray  # (K, V, 3)
    layout_mean: dict[str, np.ndarray]
    layout_basis: dict[str, np.ndarray]
    refine: Refine | None = None

    def __post_init__(self):
        if self.weight.ndim != 2 or self.weight.shape[1] - self.num_coeffs not in (POSE_FIELDS, POSE_FIELDS + HEAD_POSE_FIELDS):
            raise BundleError(f"the tail's head has shape {self.weight.shape} for {self.num_coeffs} shape coefficients; "
                              f"expected (F, {self.num_coeffs} + {POSE_FIELDS}), or {HEAD_POSE_FIELDS} more with a pose head")

    @property
    def num_coeffs(self) -> int:
        return self.dense_basis.shape[0]

    @property
    def pose_head(self) -> bool:
        """Whether the head reports the pose with a rotation of its own (``HEAD_POSE_FIELDS`` more columns)."""
        return self.weight.shape[1] == self.num_coeffs + POSE_FIELDS + HEAD_POSE_FIELDS

    @property
    def output_size(self) -> int:
        """Values per face the network returns: F features, then the refinement map if any."""
        return self.weight.shape[0] + (self.refine.size if self.refine else 0)

    def point_set(self, face: CanonicalFace, layout: str | np.ndarray) -> PointSet:
        """Rows for a bundled layout name, mesh vertex ids (N,), or barycentric points (N, 4)
        ``[triangle_id, w0, w1, w2]`` on the canonical mesh."""
        rows = self._point_rows(face, layout)
        if self.refine is None:
            return rows
        readout, bias = self.refine.readout(rows.mean)
        return replace(rows, readout=readout, readout_bias=bias)

    def _point_rows(self, face: CanonicalFace, layout: str | np.ndarray) -> PointSet:
        if isinstance(layout, str):
            if layout not in self.layout_mean:
                raise InputError(f"layout {layout!r} is not bundled; expected one of {sorted(self.layout_mean)}, "
                                 "or mesh vertex ids / barycentric points")
            ids = face.layout_vertices(layout)
            return PointSet(self.layout_mean[layout], self.layout_basis[layout], face.normals[ids])
        face.points(layout)  # validates ids / barycentric weights with a clear InputError
        q = np.asarray(layout)
        if q.ndim == 1:
            ids = q.astype(np.int64)
            return PointSet(self.dense_mean[ids], self.dense_basis[:, ids].astype(np.float32), face.normals[ids])
        tri = face.triangles[q[:, 0].astype(np.int64)]
        w = q[:, 1:].astype(np.float32)
        mean = np.einsum("nk,nkd->nd", w, self.dense_mean[tri])
        basis = np.einsum("nk,cnkd->cnd", w, self.dense_basis[:, tri].astype(np.float32))
        n = np.einsum("nk,nkd->nd", w, face.normals[tri])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        return PointSet(mean.astype(np.float32), basis.astype(np.float32), n.astype(np.float32))

    def decode(self, features: np.ndarray, points: PointSet) -> Decoded:
        """Decode network features (B, F) for the given points."""
        return self.decode_many(features, [points])[0]

    def decode_many(self, features: np.ndarray, point_sets: list[PointSet]) -> list[Decoded]:
        """Decode features (B, F) for several point sets, sharing the head and pose work.

        Written for few faces per call, where per-call overhead, not arithmetic, is what a face
        costs: each step is one float32 numpy operation on the whole batch, and the pose is built
        row by row in Python floats (``_pose_rows``).

        Raises:
            BundleError: features of the wrong shape for this tail.
            InputError: non-finite features where they reach the result (checked on the pose
                fields and on the visibility, which every point's position feeds)."""
        f = np.asarray(features, dtype=np.float32)
        if f.ndim != 2 or f.shape[1] != self.output_size:
            raise BundleError(f"model output has shape {f.shape}; the bundle's tail expects (B, {self.output_size})")
        f, refine_map = f[:, :self.weight.shape[0]], f[:, self.weight.shape[0]:]
        raw = f @ self.weight
        raw += self.bias
        k = self.num_coeffs
        coeffs = raw[:, :k]
        s = self.input_size
        r = self.refine
        cells = (1 / r.stride, ((s - 1) / 2 + 0.5) / r.stride - 0.5) if r is not None else (1.0, 0.0)
        rotation, mt, translation, focal, score, angles, kt, kt_cells = _pose_rows(
            raw[:, k:].tolist(), s, self.focal0, self.depth0, cells)
        out = []
        for points in point_sets:
            n = len(points)
            canonical = (coeffs @ points.basis.reshape(-1, n * 3)).reshape(-1, n, 3)
            canonical += points.mean
            cam = _camera(canonical, mt, translation)
            if r is not None:
                canonical += r.offsets(refine_map, _pixels(cam, kt_cells), points)
                cam = _camera(canonical, mt, translation)
            lm = _pixels(cam, kt)
            # visibility: sigmoid(10 cos), cos of the rotated normal with the view ray -cam / |cam|
            x = _rowdot(points.normals @ mt, cam)
            x *= -5.0 / np.maximum(np.sqrt(_rowdot(cam, cam)), 1e-9)
            np.tanh(x, out=x)
            x += 1.0
            x *= 0.5
            if not cv2.checkRange(x)[0]:
                raise InputError(NON_FINITE)
            out.append(Decoded(lm, canonical, cam, rotation, translation, focal, x, score, angles))
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays for an ``.npz`` file (the dense basis in float16: sub-0.01 mm error)."""
        out = {
            "weight": self.weight, "bias": self.bias,
            "scalars": np.array([self.input_size, self.depth0, self.focal0], np.float64),
            "dense_mean": self.dense_mean, "dense_basis": self.dense_basis.astype(np.float16),
        }
        for name in self.layout_mean:
            out[f"layout_mean_{name}"] = self.layout_mean[name]
            out[f"layout_basis_{name}"] = self.layout_basis[name]
        if self.refine is not None:
            out.update(self.refine.to_arrays())
        return out

    @classmethod
    def from_arrays(cls, z) -> "Tail":
        names = [k[len("layout_mean_"):] for k in z if k.startswith("layout_mean_")]
        size, depth0, focal0 = (float(v) for v in z["scalars"])
        return cls(
            weight=np.asarray(z["weight"], np.float32), bias=np.asarray(z["bias"], np.float32), input_size=int(size),
            depth0=depth0, focal0=focal0, dense_mean=np.asarray(z["dense_mean"], np.float32),
            dense_basis=np.asarray(z["dense_basis"], np.float32),
            layout_mean={n: np.asarray(z[f"layout_mean_{n}"], np.float32) for n in names},
            layout_basis={n: np.asarray(z[f"layout_basis_{n}"], np.float32) for n in names},
            refine=Refine.from_arrays(z),
        )


def _camera(canonical: np.ndarray, mt: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Canonical points (B, N, 3) -> camera space (B, N, 3) mm."""
    cam = canonical @ mt
    cam += translation[:, None, :]
    return cam


def _pixels(cam: np.ndarray, kt: np.ndarray) -> np.ndarray:
    """Camera points (B, N, 3) -> (B, N, 2) pinhole projection with intrinsics ``kt`` (B, 3, 3),
    transposed for row vectors (depth clamped to 1 mm)."""
    h = cam @ kt
    w = h[..., 2:]
    np.maximum(w, 1.0, out=w)
    return h[..., :2] / w


def _pose_rows(pose: list, size: int, focal0: float, depth0: float, cells: tuple[float, float]):
    """Rows of the network's pose fields -> head rotation (B, 3, 3), the projection's
    (R @ diag(1, -1, -1))^T for row-vector points (B, 3, 3), translation (B, 3) mm, focal (B,)
    input pixels, score (B,), the head rotation's yaw, pitch, roll (B, 3) degrees, and the
    camera intrinsics (B, 3, 3) transposed for row vectors, in input pixels and in refinement
    map cells (``cells``: cells per pixel and offset), all float32 views of one array. The head
    rotation is the projection's unless the row carries ``HEAD_POSE_FIELDS`` more values (a pose
    head). Row by row in Python floats: for the few
    faces of a call that is several times cheaper than a dozen numpy operations on tiny arrays."""
    rows = []
    c = (size - 1) / 2
    for p in pose:
        if not math.isfinite(sum(p)) or max(p[8], p[9]) > 80.0:  # math.exp overflows past 709
            raise InputError(NON_FINITE)
        r = _rotation_6d_row(*p[:6])
        h = _rotation_6d_row(*p[POSE_FIELDS:]) if len(p) > POSE_FIELDS else r
        fl = focal0 * size * math.exp(p[9])
        tz = depth0 * math.exp(p[8])
        per = (size / 2) * tz / fl
        fc = fl * cells[0]
        rows.append((*h[0], *h[1], *h[2], r[0][0], r[1][0], r[2][0], -r[0][1], -r[1][1], -r[2][1],
                     -r[0][2], -r[1][2], -r[2][2], p[6] * per, p[7] * per, tz, fl, 0.5 * (1.0 + math.tanh(0.5 * p[10])),
                     *euler_row((*h[0], *h[1], *h[2])), fl, 0.0, 0.0, 0.0, fl, 0.0, c, c, 1.0, fc, 0.0, 0.0, 0.0, fc, 0.0, cells[1], cells[1], 1.0))
    a = np.array(rows, np.float32).reshape(-1, 44)
    return (a[:, :9].reshape(-1, 3, 3), a[:, 9:18].reshape(-1, 3, 3), a[:, 18:21], a[:, 21], a[:, 22], a[:, 23:26],
            a[:, 26:35].reshape(-1, 3, 3), a[:, 35:].reshape(-1, 3, 3))


def _rotation_6d_row(a0: float, a1: float, a2: float, b0: float, b1: float, b2: float) -> tuple:
    """One rotation matrix (row tuples) from Zhou et al.'s 6D representation: Gram-Schmidt on
    the two 3-vectors, which become the first two columns."""
    n = max(math.sqrt(a0 * a0 + a1 * a1 + a2 * a2), 1e-12)
    a0, a1, a2 = a0 / n, a1 / n, a2 / n
    d = a0 * b0 + a1 * b1 + a2 * b2
    b0, b1, b2 = b0 - d * a0, b1 - d * a1, b2 - d * a2
    n = max(math.sqrt(b0 * b0 + b1 * b1 + b2 * b2), 1e-12)
    b0, b1, b2 = b0 / n, b1 / n, b2 / n
    return ((a0, b0, a1 * b2 - a2 * b1), (a1, b1, a2 * b0 - a0 * b2), (a2, b2, a0 * b1 - a1 * b0))


def euler_yaw_pitch_roll(rotation: np.ndarray) -> np.ndarray:
    """(B, 3, 3) -> (B, 3) yaw, pitch, roll in degrees, R = Ry(yaw) Rx(pitch) Rz(roll) in camera
    axes. Positive yaw: the nose moves towards the image's left (the subject turns to their own
    right); positive pitch: nose down; positive roll: the face turns clockwise in the image.
    Row by row in Python floats, like ``_pose_rows``."""
    r = np.asarray(rotation, dtype=np.float64).reshape(-1, 9).tolist()
    return np.array([euler_row(m) for m in r]).reshape(-1, 3)


def euler_row(r) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees of one rotation matrix given as its first 9 numbers, row by row."""
    m02, m10, m11, m12, m22 = r[2], r[3], r[4], r[5], r[8]
    d = 180.0 / math.pi
    return math.atan2(m02, m22) * d, math.asin(min(1.0, max(-1.0, -m12))) * d, math.atan2(m10, m11) * d


def _bounds(points: np.ndarray) -> np.ndarray:
    """Tight box (4,) float32 of finite (N, 2) float points (``geometry.tight_box`` without its
    checks; cv2.minMaxLoc per column is about twice as fast as numpy's reductions on 68 points)."""
    x0, x1, _, _ = cv2.minMaxLoc(points[:, 0])
    y0, y1, _, _ = cv2.minMaxLoc(points[:, 1])
    return np.array([x0, y0, x1, y1], np.float32)
