"""Benchmark peers (benchmarks/peers): cheap checks that need no download; the ones that run a
peer skip when its files or packages are missing (fetch them with benchmarks/setup_peers.py)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import setup_peers  # noqa: E402
from benchmarks.peers import PEERS  # noqa: E402
from benchmarks.peers.dlib68 import DLIB_OFFSET, DLIB_SCALE, to_dlib_box  # noqa: E402
from benchmarks.peers.mediapipe_facemesh import IBUG51, MP468_TO_IBUG68, MediaPipeFaceMesh, crop_affine  # noqa: E402
from edge_landmarks.errors import BundleError  # noqa: E402
from edge_landmarks.geometry import apply_affine, tight_box  # noqa: E402
from edge_landmarks.metrics import nme_per_face  # noqa: E402


def test_mapping_is_68_unique_mesh_vertices():
    assert MP468_TO_IBUG68.shape == (68,)
    assert len(set(MP468_TO_IBUG68.tolist())) == 68
    assert MP468_TO_IBUG68.min() >= 0 and MP468_TO_IBUG68.max() < 468
    assert IBUG51.tolist() == list(range(17, 68))


def test_crop_affine_frames_box_like_mediapipe():
    box = np.array([10.0, 20.0, 110.0, 100.0])
    m = crop_affine(box)
    np.testing.assert_allclose(apply_affine(m, [60.0, 60.0]), [96.0, 96.0])
    np.testing.assert_allclose(m[0, 0] * 1.5 * 100.0, 192.0)


@pytest.mark.parametrize("box", [[0.0, 0.0, 100.0, 100.0], [30.0, 10.0, 90.0, 130.0], [5.5, 7.25, 205.0, 96.0]])
def test_dlib_box_is_square_and_follows_the_constants(box):
    out = to_dlib_box(np.array(box))
    w, h = out[2] - out[0], out[3] - out[1]
    assert w == pytest.approx(h)
    s = 0.5 * ((box[2] - box[0]) + (box[3] - box[1]))
    assert w == pytest.approx(DLIB_SCALE * s)
    centre = 0.5 * (out[:2] + out[2:])
    np.testing.assert_allclose(centre, 0.5 * (np.array(box[:2]) + box[2:]) + np.array(DLIB_OFFSET) * s)


def test_dlib_box_moves_and_scales_with_the_box():
    box = np.array([10.0, 20.0, 60.0, 80.0])
    np.testing.assert_allclose(to_dlib_box(2 * box), 2 * to_dlib_box(box), atol=1e-4)
    np.testing.assert_allclose(to_dlib_box(box + [5, 7, 5, 7]), to_dlib_box(box) + [5, 7, 5, 7], atol=1e-4)


def test_peer_table_names_match_classes():
    for key, peer in PEERS.items():
        assert peer.cls.name == key
        assert callable(getattr(peer.cls, "landmarks68"))


def test_peers_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGE_LANDMARKS_PEERS", str(tmp_path))
    assert setup_peers.peers_dir() == tmp_path
    assert setup_peers.mediapipe_model_path() == tmp_path / "face_landmark.tflite"


def test_missing_mediapipe_model_says_how_to_fetch(tmp_path):
    with pytest.raises(BundleError, match="setup_peers"):
        MediaPipeFaceMesh(model_path=tmp_path / "absent.tflite")


def _first_face(ytf68_dir):
    from edge_landmarks.data import load_ytf68

    face = load_ytf68(ytf68_dir)[0]
    return face, face.load_image(), tight_box(face.landmarks)


def test_mediapipe_runs_when_fetched(ytf68_dir):
    if not setup_peers.mediapipe_model_path().is_file():
        pytest.skip("face_landmark.tflite not fetched (python benchmarks/setup_peers.py)")
    if importlib.util.find_spec("ai_edge_litert") is None and importlib.util.find_spec("tflite_runtime") is None:
        pytest.skip("no TFLite interpreter installed (pip install ai-edge-litert)")
    face, image, box = _first_face(ytf68_dir)
    peer = MediaPipeFaceMesh()
    assert peer.mesh(image, box).shape == (468, 3)
    pred = peer.landmarks68(image, box)
    assert nme_per_face(pred[None], face.landmarks[None])[0] < 0.15
    assert peer.landmarks51(image, box).shape == (51, 2)


def test_dlib_runs_when_installed(ytf68_dir):
    if importlib.util.find_spec("dlib") is None or setup_peers.dlib_predictor_path() is None:
        pytest.skip("dlib peer not installed (python benchmarks/setup_peers.py --install)")
    from benchmarks.peers.dlib68 import Dlib68

    face, image, box = _first_face(ytf68_dir)
    pred = Dlib68().landmarks68(image, box)
    assert pred.shape == (68, 2)
    assert nme_per_face(pred[None], face.landmarks[None])[0] < 0.15


def _canonical68():
    from edge_landmarks.bundle import Bundle

    return Bundle.load().face.points("ibug68").astype(np.float64)


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (25.0, -12.0, 8.0), (-55.0, 20.0, -15.0), (70.0, 5.0, 30.0)])
def test_pose_peer_recovers_a_known_pose(angles):
    from benchmarks.peers.mediapipe_pose import CANONICAL_TO_CAMERA, euler_from_points, solve_pose
    from edge_landmarks.runtime import rotation_from_euler

    canon = _canonical68()[IBUG51]
    R = rotation_from_euler(*angles).astype(np.float64)
    t = np.array([12.0, -8.0, 600.0])
    K = np.array([[480.0, 0.0, 82.0], [0.0, 480.0, 76.0], [0.0, 0.0, 1.0]])
    cam = canon @ (R @ CANONICAL_TO_CAMERA).T + t
    uv = cam[:, :2] / cam[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
    np.testing.assert_allclose(euler_from_points(uv, canon, K), angles, atol=0.5)
    R_fit, t_fit = solve_pose(uv, canon, K)
    np.testing.assert_allclose(R_fit, R, atol=1e-3)
    np.testing.assert_allclose(t_fit, t, atol=0.5)


def test_pose_peer_rejects_too_few_points():
    from benchmarks.peers.mediapipe_pose import solve_pose
    from edge_landmarks.errors import InputError

    with pytest.raises(InputError):
        solve_pose(np.zeros((5, 2)), np.zeros((5, 3)), np.eye(3))


def test_mediapipe_pose_on_a_synthetic_face_when_available():
    if not setup_peers.mediapipe_model_path().is_file():
        pytest.skip("face_landmark.tflite not fetched (python benchmarks/setup_peers.py)")
    if importlib.util.find_spec("ai_edge_litert") is None and importlib.util.find_spec("tflite_runtime") is None:
        pytest.skip("no TFLite interpreter installed (pip install ai-edge-litert)")
    pytest.importorskip("moderngl")
    pytest.importorskip("eos")
    from benchmarks.peers.mediapipe_pose import MediaPipePose
    from edge_landmarks.errors import EdgeLandmarksError

    try:
        from export.synthetic import synthetic_test_set

        faces = [s for s in synthetic_test_set(8) if abs(s.euler[0]) <= 45][:3]
    except EdgeLandmarksError as e:
        pytest.skip(f"synthetic renderer unavailable: {e}")
    peer = MediaPipePose(_canonical68())
    pred = np.array([peer.euler(s.image, s.box, s.K) for s in faces])
    true = np.array([s.euler for s in faces])
    assert len(faces) == 3 and np.abs(pred - true).mean() < 12.0
    turned = np.abs(true) > 15  # a sign or axis mix-up in the convention shows here
    assert np.all(np.sign(pred[turned]) == np.sign(true[turned]))
