from __future__ import annotations

import numpy as np
import pytest

from edge_landmarks.errors import InputError
from edge_landmarks.layouts import LAYOUTS
from edge_landmarks.metrics import LandmarkReport, auc, ced_curve, landmark_report, nme_per_face


def _face(layout: str = "ibug68", iod: float = 100.0) -> np.ndarray:
    """A (1, N, 2) face whose outer eye corners lie exactly ``iod`` pixels apart."""
    info = LAYOUTS[layout]
    rng = np.random.default_rng(0)
    pts = rng.uniform(50, 150, size=(info.num_points, 2))
    i, j = info.outer_eye_corners
    pts[i] = (50.0, 80.0)
    pts[j] = (50.0 + iod, 80.0)
    return pts[None]


@pytest.mark.parametrize("layout", ["ibug68", "wflw98"])
def test_nme_of_offset_by_tenth_of_iod_is_010(layout):
    gt = _face(layout)
    pred = gt + np.array([10.0, 0.0])
    nme = nme_per_face(pred, gt, layout)
    assert nme.shape == (1,)
    assert nme.dtype == np.float64
    assert nme[0] == pytest.approx(0.10, abs=1e-12)


def test_nme_perfect_prediction_is_zero_and_direction_does_not_matter():
    gt = _face()
    assert nme_per_face(gt.copy(), gt)[0] == 0.0
    pred = gt + np.array([6.0, -8.0])
    assert nme_per_face(pred, gt)[0] == pytest.approx(0.10)


def test_nme_is_mean_over_points_and_normalised_by_ground_truth():
    gt = _face()
    pred = gt.copy()
    pred[0, :34] += (20.0, 0.0)
    assert nme_per_face(pred, gt)[0] == pytest.approx(0.10)
    pred = gt.copy()
    pred[0, 36] += (-68.0, 0.0)
    assert nme_per_face(pred, gt)[0] == pytest.approx(0.01)


def test_nme_per_face_scales_with_each_faces_own_iod():
    gt = np.concatenate([_face(iod=100.0), _face(iod=50.0)])
    pred = gt + np.array([5.0, 0.0])
    np.testing.assert_allclose(nme_per_face(pred, gt), [0.05, 0.10])


@pytest.mark.parametrize(
    "pred_shape, gt_shape",
    [((2, 68, 2), (2, 68, 3)), ((2, 68, 2), (1, 68, 2)), ((68, 2), (68, 2)), ((2, 68, 3), (2, 68, 3))],
)
def test_nme_rejects_mismatched_or_malformed_shapes(pred_shape, gt_shape):
    with pytest.raises(InputError):
        nme_per_face(np.zeros(pred_shape), np.ones(gt_shape))


def test_nme_rejects_coincident_eye_corners_and_unknown_layout():
    gt = _face()
    gt[0, 45] = gt[0, 36]
    with pytest.raises(InputError):
        nme_per_face(gt, gt)
    with pytest.raises(InputError):
        nme_per_face(_face(), _face(), layout="nope")


def test_auc_all_zero_errors_is_one():
    assert auc(np.zeros(5)) == 1.0


def test_auc_errors_beyond_threshold_is_zero():
    assert auc(np.array([0.15, 0.3, 2.0])) == 0.0
    assert auc(np.array([0.10, 0.2, 1.0])) == pytest.approx(0.0, abs=1e-3)


def test_auc_hand_computed_half_at_zero_half_at_005():
    assert auc(np.array([0.0, 0.05])) == pytest.approx(0.75, abs=1e-2)


def test_auc_linear_in_error_and_custom_threshold():
    assert auc(np.array([0.05]), threshold=0.10) == pytest.approx(0.5, abs=1e-2)
    assert auc(np.array([0.05]), threshold=0.20) == pytest.approx(0.75, abs=1e-2)
    assert np.isnan(auc(np.array([])))


def test_ced_curve_is_fraction_at_or_below_each_threshold():
    xs, ced = ced_curve(np.array([0.0, 0.05, 0.2]), threshold=0.1, steps=10)
    assert xs[0] == 0.0 and xs[-1] == pytest.approx(0.1)
    assert ced[0] == pytest.approx(1 / 3)
    assert ced[-1] == pytest.approx(2 / 3)
    assert np.all(np.diff(ced) >= 0)


def test_landmark_report_counts_failures_strictly_above_010():
    nmes = np.array([0.02, 0.10, 0.1000001, 0.5])
    rep = landmark_report(nmes, names=["a", "b", "c", "d"])
    assert isinstance(rep, LandmarkReport)
    assert rep.fr10 == 0.5
    assert rep.n_faces == 4
    assert rep.nme_mean == pytest.approx(nmes.mean())
    assert rep.nme_median == pytest.approx(0.10000005)
    assert rep.auc10 == pytest.approx(auc(nmes, 0.10))
    assert rep.per_face[2] == {"image": "c", "nme": pytest.approx(0.1000001)}


def test_landmark_report_defaults_names_and_serialises():
    rep = landmark_report(np.zeros(3))
    assert [p["image"] for p in rep.per_face] == ["0", "1", "2"]
    assert rep.fr10 == 0.0 and rep.auc10 == 1.0
    d = rep.to_dict()
    assert d["n_faces"] == 3 and len(d["per_face"]) == 3
    assert "FR@10 0.00 %" in rep.summary() and "faces 3" in rep.summary()


def test_landmark_report_rejects_empty_input():
    with pytest.raises(InputError):
        landmark_report(np.array([]))
