"""``edge-landmarks eval-3d``: what only synthetic faces can measure (head pose, 3D landmarks,
visibility, zero-shot ``wflw98`` points, stability), on a fixed seeded synthetic test set.

By default it scores what users get (the shipped bundle through ``Runtime``); ``model`` picks a
teacher checkpoint. Each face is framed from the tight box of its true 68 points, as
``edge-landmarks eval`` frames real faces.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edge_landmarks.bundle import is_bundle_path
from edge_landmarks.image import shifted_copy
from edge_landmarks.metrics import nme_per_face
from edge_landmarks.metrics3d import nme_3d, pose_mae, pose_mae_by_yaw, sequence_jitter, visibility_scores

from .synthetic.dataset import TEST_SET_SEED

STATIC_SHIFT = 0.5  # px, largest sub-pixel shift of a static copy (each axis)
STATIC_NOISE = 2.0  # grey levels
FPS = 30.0


@dataclass
class Predictions:
    """Per-face model outputs in the test images' frame: ``ibug68`` (F, 68, 2) and ``wflw98``
    (F, 98, 2) px; ``camera`` (F, 68, 3) mm; ``visibility`` (F, 68) in [0, 1]; ``euler`` (F, 3)
    yaw, pitch, roll degrees."""

    ibug68: np.ndarray
    wflw98: np.ndarray
    camera: np.ndarray
    visibility: np.ndarray
    euler: np.ndarray


class RuntimePredictor:
    """The shipped (or a given) bundle through ``Runtime``: what users get."""

    smoothing = True

    def __init__(self, bundle=None, backend: str = "auto", precision: str = "auto"):
        from edge_landmarks import Runtime

        self.kw = dict(bundle=bundle, backend=backend, precision=precision, score_threshold=0.0)
        self.rt = Runtime(**self.kw)
        self.name = f"bundle ({self.rt.backend} {self.rt.precision})"

    def predict(self, images, boxes) -> Predictions:
        self.rt.set_layout("ibug68")
        f68 = [self.rt.detect(im, [b])[0] for im, b in zip(images, boxes)]
        self.rt.set_layout("wflw98")
        f98 = [self.rt.detect(im, [b])[0] for im, b in zip(images, boxes)]
        self.rt.set_layout("ibug68")
        return Predictions(np.stack([f.landmarks for f in f68]), np.stack([f.landmarks for f in f98]),
                           np.stack([f.landmarks_3d for f in f68]), np.stack([f.visibility for f in f68]),
                           np.array([[f.pose.yaw, f.pose.pitch, f.pose.roll] for f in f68]))

    def track(self, frames, first_box) -> np.ndarray:
        """(T, 68, 2) smoothed landmarks of ``Runtime(mode="video").track`` at 30 fps."""
        from edge_landmarks import Runtime

        rt = Runtime(**self.kw, mode="video", detector=lambda img: [first_box])
        return np.stack([rt.track(f, timestamp=i / FPS)[0].landmarks for i, f in enumerate(frames)])


class TeacherCheckpointPredictor:
    """A teacher checkpoint (needs torch)."""

    smoothing = False

    def __init__(self, path: str | Path):
        from edge_landmarks.evaluate import load_teacher_predictor

        self.p = load_teacher_predictor(path)
        self.name = f"teacher {path}"

    def predict(self, images, boxes) -> Predictions:
        self.p.set_layout("ibug68")
        o68 = self.p.predict(images, boxes)
        self.p.set_layout("wflw98")
        o98 = self.p.predict(images, boxes)
        self.p.set_layout("ibug68")
        return Predictions(o68.landmarks, o98.landmarks, o68.camera, o68.visibility, o68.pose)


def evaluate_3d(model: str | Path | None = None, n_faces: int = 600, n_sequences: int = 12, n_frames: int = 40,
                size: int = 160, backend: str = "auto", precision: str = "auto", seed: int = TEST_SET_SEED) -> dict:
    """Scores on the first ``n_faces`` faces of the synthetic test set (``synthetic_test_set``)
    and ``n_sequences`` seeded sequences (scene seeds of ``seed + 1``).

    Returns a dict with top-level ``pose_mae`` (degrees, mean of yaw/pitch/roll MAE for |yaw| up
    to 60), ``pose_mae_by_yaw``, ``nme3d``, ``visibility_f1``, ``wflw98_nme``, ``jitter`` (raw,
    per-frame boxes), ``jitter_smoothed`` (video tracking, None for a checkpoint), and details."""
    from .synthetic.dataset import scene_seeds, synthetic_test_set
    from .synthetic.generate import render_sequence

    pred = RuntimePredictor(model, backend, precision) if is_bundle_path(model) else TeacherCheckpointPredictor(model)
    samples = list(tqdm(synthetic_test_set(n_faces, seed, size), total=n_faces, desc="render test set", leave=False))
    images, boxes = [s.image for s in samples], [s.box for s in samples]
    p = pred.predict(images, boxes)

    gt_euler = np.stack([s.euler for s in samples])
    gt68 = np.stack([s.landmarks_2d("ibug68") for s in samples])
    gt98 = np.stack([s.landmarks_2d("wflw98") for s in samples])
    near = np.abs(gt_euler[:, 0]) <= 60
    nme68 = nme_per_face(p.ibug68, gt68)
    nme98 = nme_per_face(p.wflw98, gt98, "wflw98")
    vis = visibility_scores(p.visibility, np.stack([s.self_visible[s.ids("ibug68")] for s in samples]))
    n3d = nme_3d(p.camera, np.stack([s.landmarks_3d("ibug68") for s in samples]))

    raw_j, smooth_j, static_j = [], [], []
    rng = np.random.default_rng(seed)
    for k in tqdm(scene_seeds(n_sequences, seed + 1), desc="sequences", leave=False):
        seq = render_sequence(int(k), n_frames, size=size)
        frames = [s.image for s in seq]
        gt = np.stack([s.landmarks_2d("ibug68") for s in seq])
        raw_j.append(sequence_jitter(pred.predict(frames, [s.box for s in seq]).ibug68, gt))
        if pred.smoothing:
            smooth_j.append(sequence_jitter(pred.track(frames, seq[0].box)[5:], gt[5:]))
        shifts = rng.uniform(-STATIC_SHIFT, STATIC_SHIFT, (n_frames, 2))
        copies = [shifted_copy(seq[0].image, sh, STATIC_NOISE, rng) for sh in shifts]
        gts = gt[0][None] + shifts[:, None, :]
        static_j.append(sequence_jitter(pred.predict(copies, [seq[0].box + np.tile(sh, 2) for sh in shifts]).ibug68, gts))

    return {
        "model": pred.name,
        "n_faces": n_faces,
        "pose_mae": pose_mae(p.euler, gt_euler)["mean"],
        "pose_mae_by_yaw": pose_mae_by_yaw(p.euler, gt_euler),
        "pose_mae_detail": pose_mae(p.euler, gt_euler),
        "nme3d": float(n3d[near].mean()),
        "nme3d_all": float(n3d.mean()),
        "visibility_f1": vis["f1"],
        "visibility": vis,
        "ibug68_nme": float(nme68.mean()),
        "wflw98_nme": float(nme98.mean()),
        "wflw98_vs_ibug68": float(nme98.mean() / nme68.mean()),
        "jitter": float(np.mean(raw_j)),
        "jitter_smoothed": float(np.mean(smooth_j)) if smooth_j else None,
        "jitter_static": float(np.mean(static_j)),
        "sequences": n_sequences,
        "frames": n_frames,
        "size": size,
        "seed": seed,
        "notes": [
            "pose_mae: faces with |true yaw| <= 60; nme3d: centroid-aligned, / true 3D outer-eye-corner distance, |yaw| <= 60",
            "visibility: against self-occlusion (the model does not see occluders), threshold 0.5",
            "jitter: frame-to-frame motion minus the true motion, / inter-ocular distance; static: shifted noisy copies",
        ],
    }
