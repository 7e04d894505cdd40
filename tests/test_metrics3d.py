"""3D ground-truth metrics on hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest

from edge_landmarks.errors import InputError
from edge_landmarks.metrics3d import (angle_errors, nme_3d, pose_mae, pose_mae_by_yaw, sequence_jitter,
                                      visibility_scores)


def test_angle_errors_wrap_around():
    err = angle_errors([[179.0, 0.0, -170.0]], [[-179.0, 10.0, 170.0]])
    np.testing.assert_allclose(err, [[2.0, 10.0, 20.0]])


def test_pose_mae_keeps_faces_up_to_max_yaw_and_bins_by_yaw():
    gt = np.array([[10.0, 0, 0], [45.0, 0, 0], [-80.0, 0, 0]])
    pred = gt + np.array([[2.0, 4.0, 6.0], [4.0, 0.0, 0.0], [30.0, 30.0, 30.0]])
    m = pose_mae(pred, gt)
    assert m["n_faces"] == 2
    assert m["yaw"] == pytest.approx(3.0) and m["pitch"] == pytest.approx(2.0) and m["roll"] == pytest.approx(3.0)
    assert m["mean"] == pytest.approx(8.0 / 3)
    b = pose_mae_by_yaw(pred, gt)
    assert [b[k]["n_faces"] for k in ("0-30", "30-60", "60-90")] == [1, 1, 1]
    assert b["60-90"]["mean"] == pytest.approx(30.0)
    assert pose_mae(pred[2:], gt[2:])["n_faces"] == 0


def test_nme_3d_ignores_a_common_offset_and_scales_by_the_3d_eye_distance():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 30, (2, 68, 3))
    gt[:, 36], gt[:, 45] = (-45, 0, 0), (45, 0, 0)
    assert nme_3d(gt + [0, 0, 250.0], gt) == pytest.approx([0, 0], abs=1e-12)
    moved = gt.copy()
    moved[:, :34] += [0, 9.0, 0]
    moved[:, 34:] -= [0, 9.0, 0]
    np.testing.assert_allclose(nme_3d(moved, gt), 9.0 / 90.0)


def test_visibility_scores_on_a_hand_made_case():
    s = visibility_scores([[0.9, 0.8, 0.2, 0.6]], [[1, 1, 1, 0]])
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)


def test_sequence_jitter_subtracts_the_true_motion():
    t = np.arange(10, dtype=np.float64)
    gt = np.zeros((10, 68, 2))
    gt[:, 45, 0] = 50.0
    gt += (0.3 * t)[:, None, None]
    assert sequence_jitter(gt, gt) == 0.0
    noisy = gt.copy()
    noisy[1::2, :, 0] += 1.0  # +1, -1, +1 ... px every frame against the true motion
    assert sequence_jitter(noisy, gt) == pytest.approx(1.0 / 50.0)


def test_bad_shapes_raise_input_error():
    with pytest.raises(InputError):
        nme_3d(np.zeros((1, 68, 3)), np.zeros((1, 67, 3)))
    with pytest.raises(InputError):
        sequence_jitter(np.zeros((1, 68, 2)), np.zeros((1, 68, 2)))
