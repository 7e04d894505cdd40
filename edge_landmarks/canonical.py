"""The canonical face: a 3D mean face mesh whose surface points are the landmark queries.

Frame: millimetres, x towards the subject's left (image right in a frontal view), y up,
z out of the face towards the viewer; origin near the nose (Surrey Face Model frame).
Any point on the surface can be queried, by vertex id or by barycentric coordinates
in a triangle, so new layouts need no re-training or re-export.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BundleError, InputError


@dataclass(frozen=True)
class CanonicalFace:
    """Canonical mesh plus the bundled layouts.

    Attributes:
        vertices: (V, 3) float32, mm, canonical frame.
        triangles: (T, 3) int32 vertex ids, counter-clockwise seen from outside.
        normals: (V, 3) float32 unit outward normals.
        mirror: (V,) int32, each vertex's left/right mirror vertex.
        layouts: layout name -> (N,) int32 vertex ids of its landmarks.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    normals: np.ndarray
    mirror: np.ndarray
    layouts: dict[str, np.ndarray] = field(default_factory=dict)

    def layout_vertices(self, layout: str) -> np.ndarray:
        """Vertex ids of a bundled layout."""
        if layout not in self.layouts:
            raise InputError(f"layout {layout!r} is not bundled; expected one of {sorted(self.layouts)}")
        return self.layouts[layout]

    def flip_permutation(self, layout: str) -> np.ndarray:
        """(N,) index map of a layout under a horizontal flip: point i becomes point perm[i]."""
        ids = self.layout_vertices(layout)
        where = {int(v): i for i, v in enumerate(ids)}
        try:
            return np.array([where[int(self.mirror[v])] for v in ids], dtype=np.int64)
        except KeyError as e:
            raise BundleError(f"layout {layout!r} is not left/right symmetric on the mesh (vertex {e})") from None

    def points(self, layout: str | np.ndarray) -> np.ndarray:
        """3D canonical positions of a layout name, of vertex ids (N,), or of barycentric
        points given as an (N, 4) array ``[triangle_id, w0, w1, w2]``."""
        if isinstance(layout, str):
            return self.vertices[self.layout_vertices(layout)]
        q = np.asarray(layout)
        if q.ndim == 1 and np.issubdtype(q.dtype, np.integer):
            if q.size == 0:
                raise InputError("no vertex ids given")
            if q.min() < 0 or q.max() >= len(self.vertices):
                raise InputError(f"vertex ids must lie in [0, {len(self.vertices)}), got range [{q.min()}, {q.max()}]")
            return self.vertices[q]
        if q.ndim == 2 and q.shape[1] == 4:
            tri = q[:, 0].astype(np.int64)
            w = q[:, 1:].astype(np.float64)
            if (len(q) == 0 or tri.min() < 0 or tri.max() >= len(self.triangles) or not np.all(np.isfinite(w))
                    or np.any(np.abs(w.sum(1) - 1) > 1e-4)):
                raise InputError("barycentric points need valid triangle ids and finite weights summing to 1")
            return np.einsum("nk,nkd->nd", w, self.vertices[self.triangles[tri]]).astype(np.float32)
        raise InputError("custom landmarks must be a layout name, (N,) vertex ids or (N, 4) barycentric points")

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            vertices=self.vertices,
            triangles=self.triangles,
            normals=self.normals,
            mirror=self.mirror,
            **{f"layout_{k}": v for k, v in self.layouts.items()},
        )

    @classmethod
    def load(cls, path: str | Path) -> "CanonicalFace":
        try:
            with np.load(path) as z:
                layouts = {k[len("layout_"):]: z[k] for k in z.files if k.startswith("layout_")}
                return cls(z["vertices"], z["triangles"], z["normals"], z["mirror"], layouts)
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise BundleError(f"cannot read canonical face {path}: {e}") from None


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals of a triangle mesh."""
    v = vertices.astype(np.float64)
    fn = np.cross(v[triangles[:, 1]] - v[triangles[:, 0]], v[triangles[:, 2]] - v[triangles[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    return (n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)).astype(np.float32)
