"""Render synthetic faces: scene parameters -> image plus exact 2D/3D/pose/visibility labels.

The public entry points are ``render_sample``, ``render_batch``, ``iter_samples`` and
``render_sequence``; a batch is rasterized in one pass of the moderngl renderer (one GL context
and one renderer per image size, reused).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np

from .background import draw_background
from .face_model import FaceModel, load_face_model
from .head import FACE, MOUTH, HeadTopology, build_topology, head_vertices, vertex_normals_fast
from .occluders import draw_occluders
from .render import MeshRenderer, View
from .sample import SyntheticSample
from .scene import SceneParams, project, rotation_matrix, sample_scene
from .sequence import sequence_scenes
from .texture import paint_texture

SELF_OCCLUSION_TOLERANCE_MM = 4.0  # a point is self-visible if no surface lies more than this in front of it
TEXTURE_SIZE = 256  # px: side of the face part of the albedo atlas
MAX_BATCH = 32
_CANONICAL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])
_RENDERERS: dict[int, MeshRenderer] = {}


@lru_cache(maxsize=1)
def _setup() -> tuple[FaceModel, HeadTopology]:
    model = load_face_model()
    return model, build_topology(model)


def _renderer(size: int) -> MeshRenderer:
    if size not in _RENDERERS:
        _, topo = _setup()
        tex = (TEXTURE_SIZE + TEXTURE_SIZE // 4, TEXTURE_SIZE)
        _RENDERERS[size] = MeshRenderer(topo.triangles, topo.uv, topo.part, topo.depth_bias, size, tex, MAX_BATCH)
    return _RENDERERS[size]


def _as_params(scene: int | SceneParams) -> SceneParams:
    if isinstance(scene, SceneParams):
        return scene
    if isinstance(scene, (int, np.integer)) and scene >= 0:
        return sample_scene(int(scene))
    raise TypeError(f"expected a non-negative int seed or SceneParams, got {scene!r}")


def _prepare(params: SceneParams, size: int) -> tuple[View, np.ndarray, np.ndarray, np.ndarray]:
    """The renderer's view of ``params`` plus R, t and the face vertices in camera space (float64)."""
    model, topo = _setup()
    face = model.shape(np.asarray(params.identity), np.asarray(params.expression))
    head = head_vertices(model, face)
    normals = vertex_normals_fast(head, topo.triangles, topo.weld)
    p = params.pose
    rotation = rotation_matrix(p.yaw, p.pitch, p.roll)
    t = np.asarray(p.translation, np.float64)
    m = rotation @ _CANONICAL_TO_CAMERA
    cam = head @ m.T + t
    view = View(positions=cam.astype(np.float32), normals=(normals @ m.T).astype(np.float32),
                texture=paint_texture(model, params.skin, TEXTURE_SIZE), K=params.camera.matrix(size),
                lighting=params.lighting)
    return view, rotation, t, cam[: topo.num_face]


def self_visibility(uv: np.ndarray, z: np.ndarray, depth: np.ndarray,
                    tolerance: float = SELF_OCCLUSION_TOLERANCE_MM) -> np.ndarray:
    """(N,) bool: each point (pixel ``uv`` (N, 2), depth ``z`` (N,) mm) lies in the image and no
    more than ``tolerance`` mm behind the depth buffer ``depth`` (H, W). The buffer is read at the
    four pixel centres around the point and the farthest is used, so points on a silhouette
    (where one of them already shows what lies behind) count as visible."""
    h, w = depth.shape
    x0 = np.floor(uv[:, 0]).astype(np.int64)
    y0 = np.floor(uv[:, 1]).astype(np.int64)
    inside = (uv[:, 0] >= -0.5) & (uv[:, 0] < w - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < h - 0.5)
    far = np.full(len(uv), -np.inf)
    for dx in (0, 1):
        for dy in (0, 1):
            xs, ys = np.clip(x0 + dx, 0, w - 1), np.clip(y0 + dy, 0, h - 1)
            far = np.maximum(far, depth[ys, xs])
    return inside & (z <= far + tolerance)


def _finish(params: SceneParams, size: int, colour: np.ndarray, part: np.ndarray, depth: np.ndarray,
            K: np.ndarray, rotation: np.ndarray, t: np.ndarray, face_cam: np.ndarray) -> SyntheticSample:
    model, _ = _setup()
    lut = np.clip(255 * (np.arange(256) / 255) ** params.post.gamma + 0.5, 0, 255).astype(np.uint8)
    head = cv2.LUT(colour[..., ::-1], lut)
    image = draw_background(params.background, size)
    covered = part > 0
    image = np.where(covered[..., None], head, image)
    uv = project(face_cam, K)
    in_frame = (uv[:, 0] >= -0.5) & (uv[:, 0] < size - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] < size - 0.5)
    self_vis = self_visibility(uv, face_cam[:, 2], depth)
    ibug = model.layouts["ibug68"]
    occ_mask = draw_occluders(image, params.occluders, uv[ibug], self_vis[ibug])
    px = np.clip(np.round(uv).astype(np.int64), 0, size - 1)
    unoccluded = ~(occ_mask[px[:, 1], px[:, 0]] & in_frame)
    post = params.post
    if post.blur > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), post.blur * size / 160)
    if post.noise > 0:
        noise = np.random.default_rng(post.seed).normal(0, post.noise, image.shape).astype(np.float32)
        image = np.clip(image.astype(np.float32) + noise + 0.5, 0, 255).astype(np.uint8)
    face_mask = (part == FACE) | (part == MOUTH)
    for a in (image, face_mask, occ_mask, depth):
        a.setflags(write=False)
    return SyntheticSample(image=image, K=K, rotation=rotation, translation=t,
                           vertices_3d=face_cam.astype(np.float32), vertices_2d=uv.astype(np.float32),
                           self_visible=self_vis, unoccluded=unoccluded, in_frame=in_frame, face_mask=face_mask,
                           occluder_mask=occ_mask, depth=depth, layouts=model.layouts, params=params)


def iter_samples(scenes: Iterable[int | SceneParams], size: int = 160, batch: int = MAX_BATCH) -> Iterator[SyntheticSample]:
    """Render scenes (seeds or ``SceneParams``) lazily, ``batch`` per rasterizer pass."""
    if not 0 < batch <= MAX_BATCH:
        raise ValueError(f"batch must lie in [1, {MAX_BATCH}], got {batch}")
    chunk: list[SceneParams] = []
    for scene in scenes:
        chunk.append(_as_params(scene))
        if len(chunk) == batch:
            yield from _render_chunk(chunk, size)
            chunk = []
    if chunk:
        yield from _render_chunk(chunk, size)


def _render_chunk(params: list[SceneParams], size: int) -> list[SyntheticSample]:
    prepared = [_prepare(p, size) for p in params]
    frames = _renderer(size).render([v for v, *_ in prepared])
    return [_finish(p, size, frames.colour[i], frames.part[i], frames.depth[i], v.K, r, t, cam)
            for i, (p, (v, r, t, cam)) in enumerate(zip(params, prepared))]


def render_batch(scenes: Sequence[int | SceneParams], size: int = 160) -> list[SyntheticSample]:
    """Render several scenes (seeds or ``SceneParams``) at ``size`` x ``size`` px, in order."""
    return list(iter_samples(scenes, size))


def render_sample(scene: int | SceneParams, size: int = 160) -> SyntheticSample:
    """Render one scene (a seed or ``SceneParams``) at ``size`` x ``size`` px.

    The same seed (or params) and size give a byte-identical image and identical labels."""
    return render_batch([scene], size)[0]


def render_sequence(seed: int, n_frames: int, size: int = 160, max_step_px: float = 0.5,
                    occluders: bool = True) -> list[SyntheticSample]:
    """``n_frames`` frames of one synthetic face moving smoothly (sub-pixel steps).

    Identity, camera, skin, lighting and background are the seed's scene; pose, translation
    and expression drift around it (``sequence.sequence_scenes``); each frame has its own
    sensor noise. Occluders (if kept) follow the face.

    Args:
        seed: the scene seed (``sample_scene``).
        n_frames: number of frames.
        size: image side, px.
        max_step_px: the largest ibug68 landmark motion allowed between two frames, px.
        occluders: keep the scene's occluders.
    """
    return list(iter_samples(sequence_scenes(seed, n_frames, size, max_step_px, occluders), size))
