"""The window scan behind ``Runtime(detector="scan")``: its grid and its box merging."""
from __future__ import annotations

import numpy as np
import pytest

from edge_landmarks.errors import InputError
from edge_landmarks.scan import ScanSettings, merge, window_boxes


def test_windows_cover_the_image_at_every_scale_and_stay_inside():
    s = ScanSettings(min_face=0.2, scale_step=1.5, stride=0.5)
    w = window_boxes(300, 400, s)
    sides = np.unique(np.round(w[:, 2] - w[:, 0], 3))
    assert sides[0] == pytest.approx(60.0) and sides[-1] <= 300.0 + 1e-3
    np.testing.assert_allclose(sides[1:] / sides[:-1], 1.5, rtol=1e-5)
    assert w[:, :2].min() >= 0 and w[:, 2].max() <= 400 + 1e-3 and w[:, 3].max() <= 300 + 1e-3
    for side in sides:  # every point of the image lies in some window of each size
        ws = w[np.isclose(w[:, 2] - w[:, 0], side)]
        gx, gy = np.meshgrid(np.linspace(0, 399, 9), np.linspace(0, 299, 7))
        p = np.stack([gx.ravel(), gy.ravel()], 1)
        inside = (p[:, None, 0] >= ws[None, :, 0] - 1) & (p[:, None, 0] <= ws[None, :, 2] + 1) \
            & (p[:, None, 1] >= ws[None, :, 1] - 1) & (p[:, None, 1] <= ws[None, :, 3] + 1)
        assert inside.any(1).all(), side


def test_merge_keeps_the_best_of_overlapping_boxes_and_drops_low_scores():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [80, 80, 90, 90]], np.float32)
    keep = merge(boxes, np.array([0.95, 0.99, 0.92, 0.5]), ScanSettings(score=0.9, iou=0.3))
    assert keep.tolist() == [1, 2]
    assert merge(np.zeros((0, 4)), np.zeros(0)).size == 0


def test_runtime_refuses_an_unknown_detector(tiny_bundle):
    from edge_landmarks import Runtime

    with pytest.raises(InputError, match="detector"):
        Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", detector="haar")


def test_group_boxes_unites_parts_of_one_face_and_keeps_faces_apart():
    from edge_landmarks.scan import group_boxes

    face_a = [[10, 10, 30, 30], [20, 10, 40, 30], [15, 20, 38, 45]]  # eye, eye, mouth: overlapping parts
    face_b = [[200, 10, 260, 70]]
    touching_corner = [[37, 44, 60, 65]]  # overlaps the mouth box by 1 x 1 px: not the same face
    groups = group_boxes(np.array(face_a + face_b + touching_corner, np.float32), ScanSettings(group=0.3))
    assert sorted(map(tuple, groups.tolist())) == [(10, 10, 40, 45), (37, 44, 60, 65), (200, 10, 260, 70)]
    assert group_boxes(np.zeros((0, 4))).shape == (0, 4)
