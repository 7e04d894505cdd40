"""Random scene parameters of one synthetic face, sampled from a seed.

A ``SceneParams`` fully determines a rendered sample (with the image size): identity,
expression, head pose, camera, skin, lighting, background, occluders and camera effects.
Units and frames follow ``export/models/camera.py``: camera point = R @ diag(1, -1, -1) @
canonical point + t (mm, OpenCV camera axes), R = Ry(yaw) Rx(pitch) Rz(roll).
Camera quantities are relative to the image size, so a scene renders the same at any size.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from edge_landmarks.runtime import rotation_from_euler

from .background import Background, sample_background
from .occluders import Occluder, sample_occluders
from .render import Lighting
from .texture import Skin, sample_skin

NUM_IDENTITY = 63
NUM_EXPRESSION = 6
# Canonical point placed at the sampled image position, and the 68-point box size of the mean
# face (mm) that the sampled face size refers to.
FACE_CENTRE_MM = (0.0, -12.0, -40.0)
FACE_SIZE_MM = 147.0


@dataclass(frozen=True)
class Pose:
    """Head pose.

    Attributes:
        yaw, pitch, roll: degrees, R = Ry(yaw) Rx(pitch) Rz(roll) (``edge_landmarks.decode``'s
            ``euler_yaw_pitch_roll`` convention: positive yaw turns the nose to the image's left,
            positive pitch turns it down, positive roll turns the face clockwise).
        translation: (3,) mm, camera frame: where the canonical origin (near the nose) lies.
    """

    yaw: float
    pitch: float
    roll: float
    translation: tuple[float, float, float]


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics relative to the image size S (square pixels, no distortion).

    Attributes:
        focal: focal length / S (so fx = fy = focal * S px).
        centre: (cx, cy) principal point offset from the image centre, in units of S;
            cx_px = (S - 1) / 2 + centre[0] * S (pixel centres at integer coordinates).
    """

    focal: float
    centre: tuple[float, float]

    def matrix(self, size: int) -> np.ndarray:
        """(3, 3) float64 K in pixels for an image of ``size`` x ``size``."""
        f = self.focal * size
        c = (size - 1) / 2 + np.asarray(self.centre) * size
        return np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Post:
    """Camera effects applied after compositing.

    Attributes:
        blur: Gaussian blur sigma in units of S / 160 px (0: none).
        noise: sensor noise standard deviation, grey levels.
        gamma: tone curve exponent on the rendered head's colours.
        seed: seed of the sensor noise pattern.
    """

    blur: float
    noise: float
    gamma: float
    seed: int


@dataclass(frozen=True)
class SceneParams:
    """Everything that determines one rendered face.

    Attributes:
        seed: the seed it was sampled from.
        identity: (63,) identity coefficients in standard deviations.
        expression: (6,) blendshape weights (anger, disgust, fear, happiness, sadness, surprise).
        pose, camera, skin, lighting, background, occluders, post: see their types.
    """

    seed: int
    identity: tuple[float, ...]
    expression: tuple[float, ...]
    pose: Pose
    camera: Camera
    skin: Skin
    lighting: Lighting
    background: Background
    occluders: tuple[Occluder, ...]
    post: Post


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) camera points, mm -> (N, 2) pixels (pixel centres at integers)."""
    p = np.asarray(points_cam, np.float64)
    return np.stack([K[0, 0] * p[:, 0] / p[:, 2] + K[0, 2], K[1, 1] * p[:, 1] / p[:, 2] + K[1, 2]], axis=1)


def sample_yaw(rng: np.random.Generator) -> float:
    """Yaw in degrees: 80 % uniform in [-60, 60], 20 % profile-ish, uniform in 60..90 on either side."""
    if rng.random() < 0.8:
        return float(rng.uniform(-60, 60))
    return float(rng.choice([-1, 1]) * rng.uniform(60, 90))


def _unit(v: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(x) for x in v / np.linalg.norm(v))


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """Ambient 0.3..0.6 plus a directional light from the camera's half-space, warm to cool tint."""
    tint = np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.12, 0.12) * np.array([1.0, 0.0, -1.0])
    ambient = rng.uniform(0.3, 0.6)
    diffuse = rng.uniform(0.45, 1.1) * (1.0 - 0.5 * ambient)
    d = rng.normal(size=3)
    d[2] = -abs(d[2]) - 0.3  # towards the camera side (camera looks along +z)
    return Lighting(ambient=tuple(float(x) for x in ambient * tint * rng.uniform(0.95, 1.05, 3)),
                    diffuse=tuple(float(x) for x in diffuse * tint), direction=_unit(d),
                    specular=float(rng.uniform(0.05, 0.5)), shininess=float(rng.uniform(6, 40)))


def sample_expression(rng: np.random.Generator) -> tuple[float, ...]:
    """Neutral (20 %), or one dominant blendshape mixed with small amounts of the others."""
    w = np.zeros(NUM_EXPRESSION)
    if rng.random() >= 0.2:
        w = rng.uniform(0, 0.25, NUM_EXPRESSION) * (rng.random(NUM_EXPRESSION) < 0.4)
        w[int(rng.integers(NUM_EXPRESSION))] = rng.uniform(0.2, 1.0)
    return tuple(float(x) for x in w)


def place_face(rotation: np.ndarray, camera: Camera, face_px: float, at: tuple[float, float]) -> tuple[float, float, float]:
    """Translation (mm) that puts ``FACE_CENTRE_MM`` at image position ``at`` (fractions of S from
    the principal point) with a face of ``face_px`` (fraction of S) for ``FACE_SIZE_MM``."""
    z = camera.focal * FACE_SIZE_MM / face_px
    target = np.array([at[0] * z / camera.focal, at[1] * z / camera.focal, z])
    centre = rotation @ (np.array([1.0, -1.0, -1.0]) * np.asarray(FACE_CENTRE_MM))
    return tuple(float(x) for x in target - centre)


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) float64 R = Ry(yaw) Rx(pitch) Rz(roll), degrees (the runtime's convention)."""
    return rotation_from_euler(yaw, pitch, roll).astype(np.float64)


def repose(params: SceneParams, yaw: float, pitch: float, roll: float) -> SceneParams:
    """``params`` with another head rotation, translated so ``FACE_CENTRE_MM`` stays where it was
    (same image position and depth: the framing is kept)."""
    c = np.array([1.0, -1.0, -1.0]) * np.asarray(FACE_CENTRE_MM)
    p = params.pose
    target = rotation_matrix(p.yaw, p.pitch, p.roll) @ c + np.asarray(p.translation)
    t = target - rotation_matrix(yaw, pitch, roll) @ c
    return replace(params, pose=Pose(float(yaw), float(pitch), float(roll), tuple(float(x) for x in t)))


def sample_scene(seed: int) -> SceneParams:
    """The random scene of ``seed`` (a non-negative int); the same seed gives the same scene."""
    rng = np.random.default_rng(seed)
    identity = np.clip(rng.normal(0, 1, NUM_IDENTITY), -3, 3) * np.linspace(1.0, 0.6, NUM_IDENTITY)
    expression = sample_expression(rng)
    yaw = sample_yaw(rng)
    pitch = float(np.clip(rng.normal(0, 15), -45, 45))
    roll = float(np.clip(rng.normal(0, 12), -45, 45))
    camera = Camera(focal=float(np.exp(rng.uniform(np.log(0.9), np.log(4.0)))),
                    centre=tuple(float(x) for x in rng.normal(0, 0.02, 2)))
    face_px = float(rng.uniform(0.3, 0.65))
    at = tuple(float(x) for x in rng.uniform(-0.08, 0.08, 2))
    pose = Pose(yaw, pitch, roll, place_face(rotation_matrix(yaw, pitch, roll), camera, face_px, at))
    skin = sample_skin(rng)
    lighting = sample_lighting(rng)
    background = sample_background(rng)
    occluders = sample_occluders(rng, skin.tone)
    post = Post(blur=float(rng.uniform(0, 1.2)), noise=float(rng.uniform(0, 6)), gamma=float(rng.uniform(0.85, 1.15)),
                seed=int(rng.integers(2**31)))
    return SceneParams(int(seed), tuple(float(x) for x in identity), expression, pose, camera, skin, lighting,
                       background, occluders, post)
