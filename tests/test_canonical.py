from __future__ import annotations

import numpy as np
import pytest

from edge_landmarks.canonical import CanonicalFace, vertex_normals
from edge_landmarks.errors import BundleError, DataError, InputError
from edge_landmarks.layouts import LAYOUTS

eos = pytest.importorskip("eos")

from export.canonical_sfm import build_canonical_face, read_mapping  # noqa: E402


@pytest.fixture(scope="module")
def face(sfm_dir) -> CanonicalFace:
    return build_canonical_face(sfm_dir)


def test_mesh_arrays(face):
    assert face.vertices.shape == (3448, 3) and face.vertices.dtype == np.float32
    assert face.triangles.ndim == 2 and face.triangles.shape[1] == 3
    assert face.triangles.min() >= 0 and face.triangles.max() < 3448
    assert face.normals.shape == (3448, 3)
    np.testing.assert_allclose(np.linalg.norm(face.normals, axis=1), 1.0, atol=1e-5)
    assert face.mirror.shape == (3448,)
    assert face.mirror.min() >= 0 and face.mirror.max() < 3448


@pytest.mark.parametrize("layout, n", [("ibug68", 68), ("wflw98", 98)])
def test_layouts(face, layout, n):
    ids = face.layout_vertices(layout)
    assert ids.shape == (n,)
    assert len(set(ids.tolist())) == n
    assert ids.min() >= 0 and ids.max() < len(face.vertices)
    np.testing.assert_array_equal(face.points(layout), face.vertices[ids])


def test_unknown_layout_raises_input_error(face):
    with pytest.raises(InputError):
        face.layout_vertices("nope")
    with pytest.raises(InputError):
        face.points("nope")


@pytest.mark.parametrize("layout", ["ibug68", "wflw98"])
def test_flip_permutation_matches_layout_table_and_is_an_involution(face, layout):
    perm = face.flip_permutation(layout)
    assert perm.tolist() == LAYOUTS[layout].flip_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(len(perm)))


def test_ibug68_flip_pairs(face):
    perm = face.flip_permutation("ibug68")
    for i, j in [(36, 45), (0, 16), (48, 54), (39, 42), (8, 8), (30, 30), (27, 27), (51, 51)]:
        assert perm[i] == j and perm[j] == i


@pytest.mark.parametrize("layout", ["ibug68", "wflw98"])
def test_mirrored_layout_vertices_are_reflections_in_x(face, layout):
    ids = face.layout_vertices(layout)
    p, q = face.vertices[ids], face.vertices[face.mirror[ids]]
    np.testing.assert_allclose(q[:, 0], -p[:, 0], atol=3.0)
    np.testing.assert_allclose(q[:, 1:], p[:, 1:], atol=3.0)
    off_plane = np.abs(p[:, 0]) > 3.0
    assert off_plane.sum() > len(ids) // 2
    assert np.all(np.sign(q[off_plane, 0]) == -np.sign(p[off_plane, 0]))


def test_mirror_is_an_involution_on_the_layouts(face):
    for layout in ("ibug68", "wflw98"):
        ids = face.layout_vertices(layout)
        np.testing.assert_array_equal(face.mirror[face.mirror[ids]], ids)


def test_frame_orientation(face):
    ibug = face.points("ibug68")
    assert ibug[45, 0] > 20 and ibug[36, 0] < -20, "x points to the subject's left"
    assert ibug[19, 1] > ibug[30, 1] > ibug[57, 1] > ibug[8, 1], "y points up"
    assert ibug[30, 2] > ibug[36, 2] and ibug[30, 2] > ibug[0, 2], "z points out of the face"


def test_normal_at_nose_tip_points_forward(face):
    n = face.normals[face.layout_vertices("ibug68")[30]]
    assert n[2] > 0.9


def test_vertex_normals_of_a_single_triangle():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    n = vertex_normals(v, np.array([[0, 1, 2]]))
    np.testing.assert_allclose(n, [[0, 0, 1]] * 3, atol=1e-6)
    n = vertex_normals(v, np.array([[0, 2, 1]]))
    np.testing.assert_allclose(n, [[0, 0, -1]] * 3, atol=1e-6)


def test_points_by_vertex_ids(face):
    ids = np.array([0, 114, 3447])
    np.testing.assert_array_equal(face.points(ids), face.vertices[ids])
    np.testing.assert_array_equal(face.points([5, 6]), face.vertices[[5, 6]])


def test_points_by_barycentric_rows(face):
    tris = np.array([0, 17, len(face.triangles) - 1])
    q = np.column_stack([tris, np.ones(3), np.zeros(3), np.zeros(3)])
    out = face.points(q)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out, face.vertices[face.triangles[tris, 0]], atol=1e-5)
    centroid = face.points(np.array([[17, 1 / 3, 1 / 3, 1 / 3]]))
    np.testing.assert_allclose(centroid[0], face.vertices[face.triangles[17]].mean(0), atol=1e-4)
    edge = face.points(np.array([[17, 0.0, 0.5, 0.5]]))
    np.testing.assert_allclose(edge[0], face.vertices[face.triangles[17, 1:]].mean(0), atol=1e-4)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([-1, 3]),
        np.array([0, 3448]),
        np.array([], dtype=np.int64),
        np.array([1.0, 2.0]),
        np.zeros((2, 3)),
        np.zeros((2, 2, 4)),
        np.array([[0, 0.5, 0.2, 0.2]]),
        np.array([[-1, 1.0, 0.0, 0.0]]),
        np.array([[6736, 1.0, 0.0, 0.0]]),
        np.array([[1e9, 1.0, 0.0, 0.0]]),
        np.array([[0, np.nan, 0.5, 0.5]]),
        np.empty((0, 4)),
    ],
    ids=["negative", "too-large", "empty-ids", "float-ids", "n-by-3", "3d", "weights", "tri-neg", "tri-end",
         "tri-huge", "nan-weight", "empty-bary"],
)
def test_bad_custom_points_raise_input_error(face, bad):
    assert len(face.triangles) == 6736
    with pytest.raises(InputError):
        face.points(bad)


def test_save_load_round_trip(face, tmp_path):
    path = tmp_path / "canonical.npz"
    face.save(path)
    loaded = CanonicalFace.load(path)
    for attr in ("vertices", "triangles", "normals", "mirror"):
        a, b = getattr(face, attr), getattr(loaded, attr)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert sorted(loaded.layouts) == ["ibug68", "wflw98"]
    for k, v in face.layouts.items():
        np.testing.assert_array_equal(loaded.layouts[k], v)
    np.testing.assert_array_equal(loaded.flip_permutation("ibug68"), face.flip_permutation("ibug68"))


def test_load_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(BundleError):
        CanonicalFace.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(BundleError):
        CanonicalFace.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", vertices=np.zeros((3, 3)))
    with pytest.raises(BundleError):
        CanonicalFace.load(tmp_path / "partial.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(BundleError):
        CanonicalFace.load(tmp_path / "plain.npy")


def test_asymmetric_layout_raises_bundle_error(face):
    ids = face.layouts["ibug68"].copy()
    ids[45] = ids[42]
    broken = CanonicalFace(face.vertices, face.triangles, face.normals, face.mirror, {"ibug68": ids})
    with pytest.raises(BundleError):
        broken.flip_permutation("ibug68")


def test_read_mapping(tmp_path, sfm_dir):
    ibug = read_mapping(sfm_dir / "ibug_to_sfm.txt")
    assert ibug[30] == 114 and ibug[8] == 33 and ibug[36] == 177
    assert 0 not in ibug and 60 not in ibug and 64 not in ibug
    (tmp_path / "empty.txt").write_text("[other]\n1 = 2\n")
    with pytest.raises(DataError):
        read_mapping(tmp_path / "empty.txt")


def test_build_without_model_raises_data_error(tmp_path):
    with pytest.raises(DataError):
        build_canonical_face(tmp_path)


def test_build_with_an_unmapped_landmark_raises_data_error(tmp_path, sfm_dir):
    for src in sfm_dir.iterdir():
        (tmp_path / src.name).symlink_to(src.resolve())
    (tmp_path / "ibug_to_sfm.txt").unlink()
    text = (sfm_dir / "ibug_to_sfm.txt").read_text()
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("31 =")]
    assert len(lines) == len(text.splitlines()) - 1
    (tmp_path / "ibug_to_sfm.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="30"):
        build_canonical_face(tmp_path)
