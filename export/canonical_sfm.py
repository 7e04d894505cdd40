"""Build the CanonicalFace from the Surrey Face Model in ``../shared/data/sfm`` (needs eos-py)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from edge_landmarks.canonical import CanonicalFace, vertex_normals
from edge_landmarks.errors import DataError
from edge_landmarks.paths import shared_data_dir
from edge_landmarks.layouts import layout_info

DEFAULT_SFM_DIR = shared_data_dir() / "sfm"
# Jaw contour: 8 fixed points per side, spaced by arc length along the model's contour
# candidates from cheek-bone height down to the chin (the query deformer learns the rest).
_CONTOUR_START = 2
# Inner mouth corners, undefined in eos' ibug mapping: the WFLW mapping's inner corners (its 89 and 93).
_IBUG_FILL = {60: 408, 64: 821}


def read_mapping(path: Path) -> dict[int, int]:
    """Parse an eos landmark mapping file (TOML ``n = vertex``) into {0-based landmark: vertex}."""
    out = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("["):
            section = line
        elif section == "[landmark_mappings]" and (m := re.match(r"^(\d+)\s*=\s*(\d+)$", line)):
            out[int(m.group(1)) - 1] = int(m.group(2))
    if not out:
        raise DataError(f"{path}: no [landmark_mappings] entries found")
    return out


def _nearest(vertices: np.ndarray, p: np.ndarray) -> int:
    return int(np.argmin(np.linalg.norm(vertices - p, axis=1)))


def _contour_vertices(vertices: np.ndarray, candidates: list[int], chin: int, n: int) -> list[int]:
    """``n`` vertices spaced evenly by arc length from candidates[start] towards the chin (chin excluded)."""
    poly = np.vstack([vertices[candidates[_CONTOUR_START:]], vertices[chin]])
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    out = []
    for t in np.linspace(0, s[-1], n + 1)[:-1]:
        k = min(np.searchsorted(s, t, side="right") - 1, len(seg) - 1)
        p = poly[k] + (t - s[k]) / seg[k] * (poly[k + 1] - poly[k])
        out.append(_nearest(vertices, p))
    return out


def mirror_map(vertices: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Each vertex's mirror (x -> -x): the model's own symmetry list for the vertices it covers
    (``reference``, 0-based), nearest neighbour among the remaining vertices for the rest."""
    out = np.empty(len(vertices), dtype=np.int32)
    k = 0 if reference is None else len(reference)
    if k:
        out[:k] = reference
    rest = np.arange(k, len(vertices))
    mirrored = vertices[rest] * np.array([-1.0, 1.0, 1.0])
    d = ((mirrored[:, None, :] - vertices[None, rest, :]) ** 2).sum(-1)
    out[k:] = rest[d.argmin(1)]
    return out


def _layout(name: str, mapping: dict[int, int], n_jaw: int, vertices, contours, mirror) -> np.ndarray:
    """Vertex ids of a layout: the eos mapping, ``n_jaw`` right jaw points spaced along the
    model's contour (the chin is point ``n_jaw``), and every left-side point set to the mirror
    of its right-side twin, so the layout is exactly symmetric on the mesh (eos' WFLW brows and
    eyes are not)."""
    info = layout_info(name)
    ids = np.full(info.num_points, -1, dtype=np.int64)
    for k, v in mapping.items():
        ids[k] = v
    ids[:n_jaw] = _contour_vertices(vertices, contours["right_contour"], int(ids[n_jaw]), n_jaw)
    for i, j in info.mirror_pairs:
        ids[j] = mirror[ids[i]]
    if np.any(ids < 0):
        raise DataError(f"layout {name} has unmapped landmarks {np.flatnonzero(ids < 0).tolist()}")
    return ids.astype(np.int32)


def build_canonical_face(sfm_dir: str | Path = DEFAULT_SFM_DIR) -> CanonicalFace:
    """Mean SFM shape, its triangles and normals, mirror map and the ibug68/wflw98 layouts."""
    import eos  # training-side dependency (pip install edge-landmarks[train])

    sfm_dir = Path(sfm_dir)
    model_path = sfm_dir / "sfm_shape_3448.bin"
    if not model_path.is_file():
        raise DataError(f"Surrey Face Model not found at {model_path}; expected ../shared/data/sfm beside the project")
    shape = eos.morphablemodel.load_model(str(model_path)).get_shape_model()
    vertices = np.asarray(shape.get_mean(), dtype=np.float64).reshape(-1, 3)
    triangles = np.asarray(shape.get_triangle_list(), dtype=np.int32)
    normals = vertex_normals(vertices, triangles)
    nose_tip = int(np.argmax(vertices[:, 2]))
    if normals[nose_tip, 2] < 0:  # make normals point out of the face
        triangles = triangles[:, ::-1].copy()
        normals = -normals
    reference = np.loadtxt(sfm_dir / "sfm_reference_symmetry.txt", comments="#", dtype=np.int64) - 1
    mirror = mirror_map(vertices, reference)
    contours = json.loads((sfm_dir / "sfm_model_contours.json").read_text())["model_contour"]
    ibug = _layout("ibug68", _IBUG_FILL | read_mapping(sfm_dir / "ibug_to_sfm.txt"), 8, vertices, contours, mirror)
    wflw = _layout("wflw98", read_mapping(sfm_dir / "wflw98_to_sfm.txt"), 16, vertices, contours, mirror)
    return CanonicalFace(
        vertices=vertices.astype(np.float32),
        triangles=triangles,
        normals=normals,
        mirror=mirror,
        layouts={"ibug68": ibug, "wflw98": wflw},
    )
