"""Smooth synthetic video scenes: one identity, lighting and background; a slowly moving head.

Pose, translation and expression follow sums of two low-frequency sinusoids with random
phases around the seed's scene. The time axis is then slowed until no ibug68 landmark moves
more than ``max_step_px`` between frames, so motion is sub-pixel, as stability metrics need.
``generate.render_sequence`` renders them.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .face_model import load_face_model
from .scene import Pose, SceneParams, project, rotation_matrix, sample_scene

# Peak amplitudes of the motion around the seed's scene.
_AMPLITUDE = {"yaw": 15.0, "pitch": 8.0, "roll": 6.0, "tx": 12.0, "ty": 10.0, "tz": 25.0}  # degrees, mm
_EXPRESSION_AMPLITUDE = 0.35


def _wave(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """Sum of two sinusoids (periods 60..400 frames at t = frames) with peak ``amplitude``."""
    periods = rng.uniform(60, 400, 2)
    phases = rng.uniform(0, 2 * np.pi, 2)
    weights = rng.dirichlet([1.0, 1.0])
    return amplitude * sum(w * np.sin(2 * np.pi * t / p + ph) for w, p, ph in zip(weights, periods, phases))


def _frames(base: SceneParams, n_frames: int, rng: np.random.Generator, speed: float) -> list[SceneParams]:
    t = np.arange(n_frames) * speed
    waves = {k: _wave(rng, t, a) for k, a in _AMPLITUDE.items()}
    expr = np.clip(np.asarray(base.expression)[None] + np.stack(
        [_wave(rng, t, _EXPRESSION_AMPLITUDE) for _ in base.expression], 1), 0, 1)
    p = base.pose
    out = []
    for i in range(n_frames):
        pose = Pose(float(np.clip(p.yaw + waves["yaw"][i], -90, 90)), float(np.clip(p.pitch + waves["pitch"][i], -45, 45)),
                    float(np.clip(p.roll + waves["roll"][i], -45, 45)),
                    (p.translation[0] + float(waves["tx"][i]), p.translation[1] + float(waves["ty"][i]),
                     p.translation[2] + float(waves["tz"][i])))
        out.append(replace(base, pose=pose, expression=tuple(float(x) for x in expr[i]),
                           post=replace(base.post, seed=base.post.seed + i)))
    return out


def _max_step(frames: list[SceneParams], size: int) -> float:
    """Largest ibug68 landmark displacement between consecutive frames, px."""
    model = load_face_model()
    ids = model.layouts["ibug68"]
    pts = []
    for f in frames:
        x = model.shape(np.asarray(f.identity), np.asarray(f.expression))[ids]
        r = rotation_matrix(f.pose.yaw, f.pose.pitch, f.pose.roll) @ np.diag([1.0, -1.0, -1.0])
        pts.append(project(x @ r.T + np.asarray(f.pose.translation), f.camera.matrix(size)))
    pts = np.stack(pts)
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=-1).max()) if len(pts) > 1 else 0.0


def sequence_scenes(seed: int, n_frames: int, size: int = 160, max_step_px: float = 0.5,
                    occluders: bool = True) -> list[SceneParams]:
    """Per-frame scenes of seed ``seed``'s face in motion, no landmark moving more than
    ``max_step_px`` between frames at image side ``size``; ``occluders=False`` drops them."""
    if n_frames < 1 or max_step_px <= 0:
        raise ValueError(f"need n_frames >= 1 and max_step_px > 0, got {n_frames} and {max_step_px}")
    base = sample_scene(seed)
    if not occluders:
        base = replace(base, occluders=())
    motion_seed = np.random.SeedSequence([seed, 1])
    speed = 1.0
    for _ in range(20):
        frames = _frames(base, n_frames, np.random.default_rng(motion_seed), speed)
        step = _max_step(frames, size)
        if step <= max_step_px:
            return frames
        speed *= 0.95 * max_step_px / step
    raise RuntimeError(f"could not slow the motion of sequence {seed} below {max_step_px} px per frame")
