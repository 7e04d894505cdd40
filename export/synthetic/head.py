"""The rendered head: the face mesh plus simple proxies that make it read as a head.

Proxies: a mouth interior closing the model's mouth hole (a fan pushed into the head, teeth
at the rims), a skull shell lofted from the face's outer rim to a point at the back of the
head (hair), a cylinder neck and an ellipsoid torso (clothes), all sized from each identity's
face. The shell shares the rim with the face, so it joins it without a gap or a crease. Neck and
torso are drawn with a depth bias so the face wins where they nearly coincide; visibility
labels use their true depth, so whatever hides part of the face (profiles) hides its landmarks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .face_model import FaceModel
from .texture import cell_atlas_uv, face_atlas_uv

# Per-vertex part ids (written to the renderer's label buffer).
FACE, MOUTH, SKULL, NECK, TORSO = 1, 2, 3, 4, 5
PROXY_DEPTH_BIAS = 20.0  # mm: how far behind the face the neck and torso are drawn in the depth test
_RINGS, _AROUND = 10, 24
_LAT, _LON = 12, 24


@dataclass(frozen=True)
class HeadTopology:
    """Static part of the head mesh, the same for every sample.

    Attributes:
        triangles: (T, 3) int32 vertex ids into the head's vertex array.
        uv: (N, 2) float32 atlas texture coordinates (``texture`` layout).
        part: (N,) uint8 part id per vertex (FACE, MOUTH, SKULL, NECK, TORSO).
        depth_bias: (N,) float32 mm added to the depth used for the depth test only.
        weld: (N,) int32 vertex each vertex shares its normal with (the skull's first ring
            shares the face rim's normals, so the shading is smooth across the seam).
        num_face: number of leading vertices that are the face model's vertices (same ids).
    """

    triangles: np.ndarray
    uv: np.ndarray
    part: np.ndarray
    depth_bias: np.ndarray
    weld: np.ndarray
    num_face: int


def _grid_triangles(rows: int, cols: int, closed: bool = False) -> np.ndarray:
    """Two triangles per cell of a rows x cols vertex grid; ``closed`` wraps the columns."""
    i, j = np.meshgrid(np.arange(rows - 1), np.arange(cols if closed else cols - 1), indexing="ij")
    a = i * cols + j
    b = i * cols + (j + 1) % cols
    c, d = a + cols, b + cols
    a, b, c, d = (x.ravel() for x in (a, b, c, d))
    return np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)]).astype(np.int32)


def _sphere() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit sphere (vertices, triangles, uv); v = 0 at the top (+y)."""
    lat = np.linspace(0, np.pi, _LAT + 1)
    lon = np.linspace(0, 2 * np.pi, _LON + 1)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    v = np.stack([np.sin(la) * np.sin(lo), np.cos(la), -np.sin(la) * np.cos(lo)], -1).reshape(-1, 3)
    uv = np.stack([lo / (2 * np.pi), la / np.pi], -1).reshape(-1, 2)
    return v, _grid_triangles(_LAT + 1, _LON + 1), uv


def _fan(n: int, centre: int, offset: int = 0) -> np.ndarray:
    k = np.arange(n)
    return np.stack([k + offset, (k + 1) % n + offset, np.full(n, centre)], 1).astype(np.int32)


def _rim_angle(model: FaceModel) -> np.ndarray:
    """Angle of each outer-rim vertex around the rim's centre (mean face), radians."""
    p = model.mean[model.outer_loop]
    c = p[:, :2].mean(0)
    return np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0])


def build_topology(model: FaceModel) -> HeadTopology:
    """The head's static topology for ``model``."""
    nf = model.num_vertices
    # mouth: rim copies + throat; v = 0 on the upper rim (teeth), 1 on the lower, 0.5 in the throat
    rim = model.mean[model.mouth_loop]
    m = len(rim)
    mu = (rim[:, 0] - rim[:, 0].min()) / np.ptp(rim[:, 0])
    m_uv = np.concatenate([np.stack([mu, np.where(rim[:, 1] > rim[:, 1].mean(), 0.0, 1.0)], 1), [[0.5, 0.5]]])
    m_tri = _fan(m, m)
    # skull shell: _RINGS rings of the outer rim (ring 0 = the rim) and an apex;
    # u = 0 at the top of the head .. 1 under the chin (left/right symmetric, no seam), v = 0 rim .. 1 back
    b = len(model.outer_loop)
    u = (1 - np.sin(_rim_angle(model))) / 2
    s_uv = np.concatenate([np.stack([u, np.full(b, k / _RINGS)], 1) for k in range(_RINGS)] + [[[0.5, 1.0]]])
    s_tri = np.concatenate([_grid_triangles(_RINGS, b, closed=True), _fan(b, _RINGS * b, (_RINGS - 1) * b)])
    # neck: open cylinder, 2 rings; torso: ellipsoid
    around = np.linspace(0, 1, _AROUND + 1)
    n_uv = np.concatenate([np.stack([around, np.zeros_like(around)], 1), np.stack([around, np.ones_like(around)], 1)])
    n_tri = _grid_triangles(2, _AROUND + 1)
    t_v, t_tri, t_uv = _sphere()
    parts = [(FACE, face_atlas_uv(model.uv), model.triangles, 0.0),
             (MOUTH, cell_atlas_uv("mouth", m_uv), m_tri, 0.0),
             (SKULL, cell_atlas_uv("hair", s_uv), s_tri, 0.0),
             (NECK, cell_atlas_uv("neck", n_uv), n_tri, PROXY_DEPTH_BIAS),
             (TORSO, cell_atlas_uv("clothes", t_uv), t_tri, PROXY_DEPTH_BIAS)]
    tris, uvs, ids, bias, start, skull_start = [], [], [], [], 0, 0
    for pid, uv, tri, bb in parts:
        if pid == SKULL:
            skull_start = start
        tris.append(tri + start)
        uvs.append(uv)
        ids.append(np.full(len(uv), pid, np.uint8))
        bias.append(np.full(len(uv), bb, np.float32))
        start += len(uv)
    weld = np.arange(start, dtype=np.int32)
    weld[skull_start:skull_start + b] = model.outer_loop
    return HeadTopology(np.concatenate(tris).astype(np.int32), np.concatenate(uvs).astype(np.float32),
                        np.concatenate(ids), np.concatenate(bias), weld, nf)


_UNIT_SPHERE = _sphere()[0]
_CIRCLE = np.stack([np.sin(np.linspace(0, 2 * np.pi, _AROUND + 1)), -np.cos(np.linspace(0, 2 * np.pi, _AROUND + 1))], 1)


def head_vertices(model: FaceModel, face: np.ndarray) -> np.ndarray:
    """(N, 3) float64 canonical positions of every head vertex for face vertices ``face`` (V, 3).

    The skull shell sweeps each rim vertex p0 to the back of the head B: at theta in
    [0, pi/2], xy = c + (p0 - c) * cos(theta) * (1 + bulge * sin(theta)), z = z0 + (zB - z0) *
    sin(theta) (a rounded back), with more bulge towards the top so the crown rises above the
    forehead.
    Sizes follow the face's extent (mean face: 149 mm wide, 188 mm high)."""
    lo, hi = face.min(0), face.max(0)
    w, h = hi[0] - lo[0], hi[1] - lo[1]
    loop = face[model.mouth_loop]
    throat = loop.mean(0) - np.array([0.0, 0.0, 12.0])
    rim = face[model.outer_loop]
    c = rim[:, :2].mean(0)
    z_back = lo[2] - 0.65 * w
    up = np.sin(np.arctan2(rim[:, 1] - c[1], rim[:, 0] - c[0]))
    bulge = 0.55 + 0.5 * up
    theta = np.linspace(0, np.pi / 2, _RINGS + 1)[:_RINGS, None]
    radial = np.cos(theta) * (1 + bulge[None] * np.sin(theta))
    xy = c + (rim[None, :, :2] - c) * radial[..., None]
    z = rim[None, :, 2] + (z_back - rim[None, :, 2]) * np.sin(theta)
    shell = np.concatenate([np.dstack([xy, z]).reshape(-1, 3), [[c[0], c[1], z_back]]])
    neck_z = 0.5 * (lo[2] + z_back) + 0.15 * w
    ring = _CIRCLE * np.array([0.38 * w, 0.42 * w])
    neck = np.concatenate([np.column_stack([c[0] + ring[:, 0], np.full(len(ring), y), neck_z + ring[:, 1]])
                           for y in (lo[1] + 0.3 * h, lo[1] - 0.9 * w)])
    torso = np.array([c[0], lo[1] - 0.95 * w, neck_z]) + _UNIT_SPHERE * np.array([1.45 * w, 0.6 * w, 0.55 * w])
    return np.concatenate([face, loop, throat[None], shell, neck, torso])


def vertex_normals_fast(vertices: np.ndarray, triangles: np.ndarray, weld: np.ndarray | None = None) -> np.ndarray:
    """Area-weighted unit vertex normals (N, 3) float32 (bincount, no Python loop over faces);
    vertices welded together (``weld``, see ``HeadTopology``) share one normal."""
    v = vertices
    tri = triangles if weld is None else weld[triangles]
    fn = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    n = np.empty_like(v)
    ids = tri.ravel()
    for c in range(3):
        n[:, c] = np.bincount(ids, np.repeat(fn[:, c], 3), minlength=len(v))
    if weld is not None:
        n = n[weld]
    return (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)).astype(np.float32)
