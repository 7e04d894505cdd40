"""The Surrey Face Model as arrays: mean shape, identity and expression bases, UVs, layouts.

Frame: the canonical face of ``edge_landmarks.canonical`` (mm; x to the subject's left, y up,
z towards the viewer). Loaded once per process (``load_face_model``); needs eos-py.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from edge_landmarks.errors import DataError

from ..canonical_sfm import DEFAULT_SFM_DIR, build_canonical_face


@dataclass(frozen=True)
class FaceModel:
    """Linear face model ``mean + identity @ shape_coeffs + expression @ weights``.

    Attributes:
        mean: (V, 3) float64 mean shape, mm, canonical frame (V = 3448).
        identity: (V * 3, K) float32 identity basis scaled by the standard deviations, so a
            coefficient of 1 is one standard deviation (mm per unit; K = 63).
        expression: (V * 3, E) float32 expression blendshape offsets, mm per unit weight
            (E = 6: anger, disgust, fear, happiness, sadness, surprise).
        triangles: (T, 3) int32 vertex ids, counter-clockwise seen from outside.
        uv: (V, 2) float32 texture coordinates in [0, 1], v = 0 at the top of the forehead.
        layouts: layout name -> (N,) int32 vertex ids (``ibug68``, ``wflw98``).
        mouth_loop: (M,) int32 vertex ids of the mouth hole's rim, in order around it.
        outer_loop: (B,) int32 vertex ids of the face's outer rim (forehead, temples, under the
            chin), in order around it.
        expression_names: the E blendshape names.
    """

    mean: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    layouts: dict[str, np.ndarray]
    mouth_loop: np.ndarray
    outer_loop: np.ndarray
    expression_names: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.mean)

    def shape(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """(V, 3) float64 vertices, mm, canonical frame, of identity coefficients (K,) and
        expression weights (E,)."""
        # einsum, not BLAS: a threaded gemv this small stalls next to llvmpipe's render threads
        offset = (np.einsum("ij,j->i", self.identity, np.asarray(identity, np.float32))
                  + np.einsum("ij,j->i", self.expression, np.asarray(expression, np.float32)))
        return self.mean + offset.reshape(-1, 3)


def _boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Ordered vertex loops along the mesh's boundary edges (edges used by one triangle)."""
    count: dict[tuple[int, int], int] = defaultdict(int)
    for a, b in np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]).tolist():
        count[(min(a, b), max(a, b))] += 1
    nxt: dict[int, list[int]] = defaultdict(list)
    for (a, b), c in count.items():
        if c == 1:
            nxt[a].append(b)
            nxt[b].append(a)
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            step = [n for n in nxt[cur] if n != prev and (n not in seen or (n == start and len(loop) > 2))]
            if not step or step[0] == start:
                break
            prev, cur = cur, step[0]
            loop.append(cur)
            seen.add(cur)
        loops.append(np.array(loop, dtype=np.int32))
    return loops


@lru_cache(maxsize=2)
def load_face_model(sfm_dir: str | Path = DEFAULT_SFM_DIR) -> FaceModel:
    """Read the SFM shape model and its 6 expression blendshapes (cached per folder).

    Raises:
        DataError: the model files are missing.
    """
    import eos  # training-side dependency (pip install edge-landmarks[train])

    sfm_dir = Path(sfm_dir)
    paths = [sfm_dir / "sfm_shape_3448.bin", sfm_dir / "expression_blendshapes_3448.bin"]
    for p in paths:
        if not p.is_file():
            raise DataError(f"Surrey Face Model file {p} not found; expected ../shared/data/sfm beside the project")
    face = build_canonical_face(sfm_dir)
    model = eos.morphablemodel.load_model(str(paths[0]))
    shape = model.get_shape_model()
    blend = eos.morphablemodel.load_blendshapes(str(paths[1]))
    mean = np.asarray(shape.get_mean(), np.float64).reshape(-1, 3)
    loops = _boundary_loops(face.triangles)
    mouth = face.layouts["ibug68"][48:68]
    mouth_loop = min(loops, key=lambda lp: np.linalg.norm(mean[lp].mean(0) - mean[mouth].mean(0)))
    return FaceModel(
        mean=mean,
        identity=np.ascontiguousarray(shape.get_rescaled_pca_basis(), np.float32),
        expression=np.ascontiguousarray(np.stack([np.asarray(b.deformation, np.float32) for b in blend], axis=1)),
        triangles=face.triangles,
        uv=np.asarray(model.get_texture_coordinates(), np.float32),
        layouts=dict(face.layouts),
        mouth_loop=mouth_loop,
        outer_loop=max(loops, key=len),
        expression_names=tuple(b.name for b in blend),
    )
