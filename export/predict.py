"""Run a teacher checkpoint on images and face boxes, returning image-pixel results (numpy)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edge_landmarks.canonical import CanonicalFace
from edge_landmarks.data.ytf68 import LABEL_X_OFFSET
from edge_landmarks.errors import InputError
from edge_landmarks.geometry import affine_scale, apply_affine, box_to_input_affine, invert_affine, warp_to_input

from .augment import to_tensor_layout
from .models import Teacher
from .models.camera import euler_yaw_pitch_roll

LABEL_X_OFFSETS = {"ytf68": LABEL_X_OFFSET}  # each data set's label x offset from the mirror-symmetric convention, image px


@dataclass
class TeacherOutput:
    """Per-face teacher predictions; ``landmarks`` (F, N, 2) are pixels of the input image,
    ``canonical`` (F, N, 3) mm, ``pose`` (F, 3) yaw/pitch/roll degrees of ``rotation`` (F, 3, 3),
    ``camera`` (F, N, 3) mm, ``visibility`` (F, N); pose and camera in the input image's axes."""

    landmarks: np.ndarray
    canonical: np.ndarray
    camera: np.ndarray
    pose: np.ndarray
    rotation: np.ndarray
    visibility: np.ndarray
    region: np.ndarray  # (F, 4, 2) corners of the learned region, image pixels


class TeacherPredictor:
    """A teacher on framed faces. ``flip_test``: the 2D landmarks are the average of the image's
    and its mirror image's (re-indexed left/right, the labels' x offset kept), the usual test-time
    flip of landmark benchmarks; pose, 3D points and visibility stay the image's own."""

    def __init__(self, model: Teacher, face: CanonicalFace, layout: str = "ibug68", dataset: str = "ytf68",
                 flip_test: bool = False):
        self.model = model.eval()
        self.face = face
        self.flip_test = flip_test
        self.label_x_offset = LABEL_X_OFFSETS.get(dataset, 0.0)
        self.set_layout(layout)
        self.dataset = model.cfg.datasets.index(dataset)

    def set_layout(self, layout) -> None:
        if self.flip_test:
            if not isinstance(layout, str):
                raise InputError("the flip test needs a named layout (its left/right pairs); got query points")
            self.flip_perm = torch.as_tensor(self.face.flip_permutation(layout))
        pts = self.face.points(layout)
        if isinstance(layout, str):
            normals = self.face.normals[self.face.layout_vertices(layout)]
        else:
            v = self.face.vertices
            normals = self.face.normals[np.argmin(((v[None] - pts[:, None]) ** 2).sum(-1), axis=1)]
        self.queries = torch.as_tensor(np.asarray(pts), dtype=torch.float32)
        self.normals = torch.as_tensor(np.asarray(normals), dtype=torch.float32)

    def prepare(self, image: np.ndarray, box: np.ndarray, shift=(0.0, 0.0), scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Frame a face as the model expects; ``shift``/``scale`` move the framing off the box."""
        spec = self.model.cfg.input
        m = box_to_input_affine(box, spec.size, spec.enlarge, shift=shift, scale=scale)
        return to_tensor_layout(warp_to_input(image, m, spec.size), spec.mean, spec.std), m

    @torch.no_grad()
    def run_inputs(self, x: np.ndarray, affines: list[np.ndarray], batch: int = 64) -> TeacherOutput:
        outs = []
        for i in range(0, len(x), batch):
            xb = torch.as_tensor(x[i:i + batch])
            d = torch.full((len(xb),), self.dataset, dtype=torch.long)
            outs.append(self.model(xb, self.queries, self.normals, d))
            if self.flip_test:
                outs[-1]["landmarks"] = self._with_mirror(outs[-1]["landmarks"], xb, d, affines[i:i + batch])
        cat = lambda k: torch.cat([o[k] for o in outs]).numpy()  # noqa: E731
        lm_in = cat("landmarks")
        theta = cat("theta")
        s = self.model.cfg.input.size
        corners_n = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
        lms, regions = [], []
        for k, m in enumerate(affines):
            inv = invert_affine(m)
            lms.append(apply_affine(inv, lm_in[k]))
            c_in = ((corners_n @ theta[k][:, :2].T + theta[k][:, 2]) + 1) * s / 2 - 0.5
            regions.append(apply_affine(inv, c_in))
        rot = torch.cat([o["rotation_input"] for o in outs])
        return TeacherOutput(
            landmarks=np.asarray(lms, dtype=np.float32),
            canonical=cat("canonical"),
            camera=cat("camera_input"),
            pose=euler_yaw_pitch_roll(rot).numpy(),
            rotation=rot.numpy().astype(np.float32),
            visibility=cat("visibility"),
            region=np.asarray(regions, dtype=np.float32),
        )

    def _with_mirror(self, landmarks: torch.Tensor, x: torch.Tensor, d: torch.Tensor, affines: list[np.ndarray]) -> torch.Tensor:
        """The average of ``landmarks`` (input pixels) and the mirror image's, flipped back. The
        model predicts the labels' convention, ``label_x_offset`` image pixels right of the truth,
        on the mirror image too, so flipped back it sits that far left: moved by twice the offset."""
        size = self.model.cfg.input.size
        mirror = self.model(torch.flip(x, dims=[3]), self.queries, self.normals, d)["landmarks"][:, self.flip_perm]
        scale = torch.tensor([affine_scale(m) for m in affines], dtype=torch.float32)
        mirror = torch.stack([size - 1 - mirror[..., 0] + 2 * self.label_x_offset * scale[:, None], mirror[..., 1]], -1)
        return (landmarks + mirror) / 2

    def predict(self, images: list[np.ndarray], boxes: list[np.ndarray], framings: list[tuple] | None = None) -> TeacherOutput:
        """Predict faces; ``framings`` optionally gives a (shift, scale) per face."""
        framings = framings or [((0.0, 0.0), 1.0)] * len(images)
        prepared = [self.prepare(img, b, *f) for img, b, f in zip(images, boxes, framings)]
        return self.run_inputs(np.stack([p[0] for p in prepared]), [p[1] for p in prepared])
