"""The OpenVINO backend's crops-in, faces-out graph (preprocessing and the float tail compiled
with the network, ``edge_landmarks/backends/openvino_tail.py``) against the numpy tail."""
from __future__ import annotations

import numpy as np
import pytest

from edge_landmarks.bundle import Bundle
from edge_landmarks.decode import Tail
from edge_landmarks.errors import InputError
from edge_landmarks.geometry import box_to_input_affine
from edge_landmarks.image import face_crop, to_network_input

pytest.importorskip("openvino")
from edge_landmarks.backends.openvino import OpenVinoBackend  # noqa: E402
from edge_landmarks.backends.openvino_tail import unpacker  # noqa: E402

# the numpy tail reads the refinement map with cv2.remap's 1/32-cell weights, the graph exactly
TOLERANCE = {"landmarks": 0.25, "camera": 0.5, "visibility": 0.01, "box": 0.25, "rotation": 1e-5, "translation": 0.01,
             "focal": 0.01, "camera_center": 1e-3, "score": 1e-5, "angles": 1e-3}
POINT_FIELDS = ("landmarks", "camera", "visibility")  # FaceDecoding.points, per point set


def _face_crops(ytf68_dir, bundle: Bundle, n: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(crops, their image -> crop affines) of ``n`` real faces."""
    from edge_landmarks.data import load_ytf68
    from edge_landmarks.geometry import tight_box

    samples = load_ytf68(ytf68_dir)[::700][:n]
    crops = [face_crop(s.load_image(), tight_box(s.landmarks), bundle.input.size, bundle.input.enlarge) for s in samples]
    return [c for c, _ in crops], [m for _, m in crops]


def _compare(got: list, ref: list, tolerance: dict) -> None:
    """Two lists of ``FaceDecoding``, field by field."""
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert len(g.points) == len(r.points)
        for name, tol in tolerance.items():
            if name in POINT_FIELDS:
                k = POINT_FIELDS.index(name)
                err = max(np.abs(a[k] - b[k]).max() for a, b in zip(g.points, r.points))
            else:
                err = np.abs(np.asarray(getattr(g, name)) - np.asarray(getattr(r, name))).max()
            assert err <= tol, (name, err)


def test_fused_graph_decodes_like_the_numpy_tail_on_the_shipped_model(ytf68_dir):
    """Shipped bundle (refinement, pose head), real faces: the bundled layout, two layouts at
    once (ibug68 framing + wflw98) and custom barycentric points all agree with the numpy tail;
    the refinement moves the points by more than the tolerance, so a graph without it fails."""
    bundle = Bundle.load()
    backend = OpenVinoBackend(bundle.entry("openvino", "int8").path, threads=1)
    crops, affines = _face_crops(ytf68_dir, bundle)
    tail, face = bundle.tail, bundle.face
    custom = np.array([[0, 0.2, 0.3, 0.5], [100, 1.0, 0.0, 0.0], [2000, 0.1, 0.1, 0.8]])
    ibug = tail.point_set(face, "ibug68")
    for sets in ([ibug], [ibug, tail.point_set(face, "wflw98")], [ibug, tail.point_set(face, custom)]):
        fused = backend.decoder(bundle.input, tail, sets)(crops, affines)
        features = backend.run_crops(crops, bundle.input)
        first, *more = tail.decode_many(features, sets)
        _compare(fused, first.faces(affines, bundle.input.size, *more), TOLERANCE)
    plain = Tail(**{**tail.__dict__, "refine": None}).decode(features[:, :tail.weight.shape[0]], ibug)
    moved = max(np.abs(p.points[0][0] - f.points[0][0]).max() for p, f in zip(plain.faces(affines, bundle.input.size), fused))
    assert moved > 4 * TOLERANCE["landmarks"]


def test_fused_graph_without_refinement_or_pose_head_is_exact(tiny_bundle):
    """Tiny student (neither refinement nor pose head): the graph's maths is the numpy tail's."""
    bundle = Bundle.load(tiny_bundle)
    entries = [m for m in bundle.models if m.backend == "openvino"]
    if not entries:
        pytest.skip("no OpenVINO model in the tiny bundle (pip install '.[export]')")
    rng = np.random.default_rng(0)
    s = bundle.input.size
    crops = [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for _ in range(3)]
    # general affines (rotated crops too): the graph inverts them as cv2.invertAffineTransform does
    affines = [box_to_input_affine(np.array([10.0 + 7 * i, 20.0, 90.0 + 9 * i, 110.0]), s, 1.3, rotation_deg=25.0 * i)
               for i in range(3)]
    sets = [bundle.tail.point_set(bundle.face, "ibug68")]
    assert bundle.tail.refine is None and not bundle.tail.pose_head
    for entry in entries:
        backend = OpenVinoBackend(entry.path, threads=1)
        ref = bundle.tail.decode_many(backend.run_crops(crops, bundle.input), sets)[0].faces(affines, s)
        _compare(backend.decoder(bundle.input, bundle.tail, sets)(crops, affines), ref,
                 {k: 1e-3 for k in TOLERANCE} | {"landmarks": 1e-3, "box": 1e-3, "angles": 1e-2})


def test_crops_through_the_compiled_preprocessing_give_the_float_inputs_features(ytf68_dir):
    """OpenVINO's PrePostProcessor (uint8 BGR crops) = the network on ``to_network_input``."""
    bundle = Bundle.load()
    backend = OpenVinoBackend(bundle.entry("openvino", "int8").path, threads=1)
    crops, _ = _face_crops(ytf68_dir, bundle, 2)
    x = to_network_input(crops, bundle.input.color, bundle.input.mean, bundle.input.std)
    np.testing.assert_allclose(backend.run_crops(crops, bundle.input), backend.run(x), atol=1e-5)


def test_bad_crops_and_non_finite_outputs_are_input_errors():
    bundle = Bundle.load()
    backend = OpenVinoBackend(bundle.entry("openvino", "int8").path, threads=1)
    s = bundle.input.size
    with pytest.raises(InputError, match=r"uint8 BGR crops of shape \(128, 128, 3\)"):
        backend.run_crops([np.zeros((s, s, 4), np.uint8)], bundle.input)
    sets = [bundle.tail.point_set(bundle.face, "ibug68")]
    decode = backend.decoder(bundle.input, bundle.tail, sets)
    with pytest.raises(InputError, match="uint8 BGR crops"):
        decode([np.zeros((s, s, 3), np.float32)], [np.eye(2, 3)])
    with pytest.raises(InputError, match="one affine per crop, got 2 for 1 crops"):
        decode([np.zeros((s, s, 3), np.uint8)], [np.eye(2, 3)] * 2)
    rows = np.zeros((1, 6 * 68 + 20), np.float32)
    assert len(unpacker(sets)(rows)[0].points[0][0]) == 68
    rows[0, 5] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        unpacker(sets)(rows)


def test_compiled_model_cache_is_used_and_a_damaged_one_is_compiled_again(tmp_path, monkeypatch):
    """OpenVINO's compiled models go to the user cache; a damaged cache file is compiled again and
    decodes the same faces (not an error, not a wrong answer)."""
    monkeypatch.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path))
    bundle = Bundle.load()
    s = bundle.input.size
    crops = [np.random.default_rng(1).integers(0, 256, (s, s, 3), dtype=np.uint8)]
    sets = [bundle.tail.point_set(bundle.face, "ibug68")]

    def faces():
        backend = OpenVinoBackend(bundle.entry("openvino", "int8").path, threads=1)
        return backend.decoder(bundle.input, bundle.tail, sets)(crops, [np.eye(2, 3)])

    first = faces()
    blobs = sorted((tmp_path / "openvino").glob("*.blob"))
    assert blobs
    for blob in blobs:
        blob.chmod(0o600)
        blob.write_bytes(b"damaged")
    _compare(faces(), first, {k: 0.0 for k in TOLERANCE})
