from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_landmarks.errors import InputError
from edge_landmarks.geometry import (
    apply_affine,
    box_to_input_affine,
    check_box,
    invert_affine,
    tight_box,
    warp_to_input,
)

BOX = np.array([20.0, 40.0, 100.0, 120.0])
CENTRE = np.array([60.0, 80.0])


@pytest.mark.parametrize("size", [64, 112, 255])
def test_box_centre_maps_to_input_centre(size):
    m = box_to_input_affine(BOX, size, 1.3)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(apply_affine(m, CENTRE), [(size - 1) / 2] * 2, atol=1e-9)


@pytest.mark.parametrize("enlarge", [1.0, 1.25, 1.6])
def test_enlarged_box_side_spans_the_full_input(enlarge):
    size = 128
    m = box_to_input_affine(BOX, size, enlarge)
    half = 0.5 * 80.0 * enlarge
    left, right = apply_affine(m, np.array([CENTRE - (half, 0), CENTRE + (half, 0)]))
    top, bottom = apply_affine(m, np.array([CENTRE - (0, half), CENTRE + (0, half)]))
    assert right[0] - left[0] == pytest.approx(size)
    assert bottom[1] - top[1] == pytest.approx(size)
    assert left[0] == pytest.approx(-0.5) and right[0] == pytest.approx(size - 0.5)
    assert top[1] == pytest.approx(-0.5) and bottom[1] == pytest.approx(size - 0.5)


def test_non_square_box_uses_its_longer_side():
    m = box_to_input_affine(np.array([0.0, 0.0, 50.0, 100.0]), 100, 1.0)
    np.testing.assert_allclose(m[:, :2], np.eye(2))
    np.testing.assert_allclose(apply_affine(m, (25.0, 50.0)), (49.5, 49.5))


def test_shift_is_a_fraction_of_the_box_side_and_scale_widens_the_square():
    size = 100
    m = box_to_input_affine(BOX, size, 1.0, shift=(0.25, -0.5))
    np.testing.assert_allclose(apply_affine(m, CENTRE + (20.0, -40.0)), [(size - 1) / 2] * 2, atol=1e-9)
    m = box_to_input_affine(BOX, size, 1.0, scale=2.0)
    np.testing.assert_allclose(m[:, :2], np.eye(2) * size / 160.0)


def test_positive_rotation_turns_the_face_counter_clockwise_in_the_input():
    """+90 deg: image right of the box centre lands above the input centre, image below lands right."""
    size = 101
    c = (size - 1) / 2
    m = box_to_input_affine(BOX, size, 1.0, rotation_deg=90.0)
    s = size / 80.0
    np.testing.assert_allclose(apply_affine(m, CENTRE + (10.0, 0.0)), (c, c - 10.0 * s), atol=1e-9)
    np.testing.assert_allclose(apply_affine(m, CENTRE + (0.0, 10.0)), (c + 10.0 * s, c), atol=1e-9)
    np.testing.assert_allclose(apply_affine(m, CENTRE), (c, c), atol=1e-9)


def test_rotation_matches_opencv_get_rotation_matrix_2d():
    m = box_to_input_affine(BOX, 96, 1.2, rotation_deg=30.0)
    ref = cv2.getRotationMatrix2D((float(CENTRE[0]), float(CENTRE[1])), 30.0, 96 / (80.0 * 1.2))
    np.testing.assert_allclose(m[:, :2], ref[:, :2], atol=1e-12)


def test_flip_mirrors_the_input_horizontally():
    size = 64
    pts = np.array([[30.0, 50.0], [60.0, 80.0], [95.0, 110.0]])
    plain = apply_affine(box_to_input_affine(BOX, size, 1.3, rotation_deg=15.0), pts)
    flipped = apply_affine(box_to_input_affine(BOX, size, 1.3, rotation_deg=15.0, flip=True), pts)
    np.testing.assert_allclose(flipped[:, 0], size - 1 - plain[:, 0], atol=1e-9)
    np.testing.assert_allclose(flipped[:, 1], plain[:, 1], atol=1e-9)
    np.testing.assert_allclose(flipped[1], [(size - 1) / 2] * 2, atol=1e-9)


@pytest.mark.parametrize("kw", [{}, {"rotation_deg": -37.0, "flip": True}, {"shift": (0.1, -0.2), "scale": 0.7}])
def test_invert_and_apply_affine_round_trip(kw):
    m = box_to_input_affine(BOX, 112, 1.4, **kw)
    inv = invert_affine(m)
    pts = np.random.default_rng(1).uniform(-50, 200, size=(10, 2))
    np.testing.assert_allclose(apply_affine(inv, apply_affine(m, pts)), pts, atol=1e-9)
    np.testing.assert_allclose(apply_affine(m, apply_affine(inv, pts)), pts, atol=1e-9)


def test_apply_affine_keeps_leading_dimensions():
    m = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]])
    out = apply_affine(m, np.ones((4, 5, 2)))
    assert out.shape == (4, 5, 2)
    np.testing.assert_allclose(out[2, 3], (3.0, 2.0))


@pytest.mark.parametrize(
    "kw, expected",
    [({}, (32, 12)), ({"flip": True}, (0, 12)), ({"rotation_deg": 90.0}, (12, 0))],
)
def test_warp_moves_pixels_where_apply_affine_moves_points(kw, expected):
    img = np.zeros((64, 64, 3), np.uint8)
    img[20, 40] = 255
    m = box_to_input_affine(np.array([8.0, 8.0, 40.0, 40.0]), 33, 33 / 32, **kw)
    np.testing.assert_allclose(apply_affine(m, (40.0, 20.0)), expected, atol=1e-9)
    out = warp_to_input(img, m, 33)
    assert out.shape == (33, 33, 3)
    y, x = np.unravel_index(np.argmax(out[..., 0]), out.shape[:2])
    assert (x, y) == expected
    assert out[y, x, 0] > 250


def test_tight_box():
    box = tight_box(np.array([[3.0, 7.0], [10.0, 2.0], [5.0, 5.0]]))
    assert box.dtype == np.float32
    np.testing.assert_array_equal(box, [3.0, 2.0, 10.0, 7.0])
    with pytest.raises(InputError):
        tight_box(np.zeros((0, 2)))
    with pytest.raises(InputError):
        tight_box(np.zeros((5, 3)))


def test_check_box_accepts_valid_and_partly_outside_boxes():
    out = check_box([1, 2, 3, 4])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1, 2, 3, 4])
    check_box([-10.0, -10.0, 5.0, 5.0], (100, 80, 3))
    check_box([70.0, 90.0, 120.0, 130.0], (100, 80))


@pytest.mark.parametrize(
    "box",
    [
        [10, 10, 10, 20],
        [10, 10, 20, 10],
        [20, 10, 10, 20],
        [0, 0, np.nan, 10],
        [0, 0, np.inf, 10],
        [0, 0, 10],
        [0, 0, 10, 10, 1],
        [],
        ["a", 0, 10, 10],
        [[0, 0], [10]],
        None,
    ],
)
def test_check_box_rejects_degenerate_boxes(box):
    with pytest.raises(InputError):
        check_box(box)


@pytest.mark.parametrize(
    "box",
    [[80, 10, 90, 20], [10, 100, 20, 110], [-20, 10, 0, 20], [10, -20, 20, 0], [200, 200, 300, 300]],
)
def test_check_box_rejects_boxes_outside_the_image(box):
    with pytest.raises(InputError):
        check_box(box, (100, 80, 3))


def test_box_to_input_affine_validates_the_box():
    with pytest.raises(InputError):
        box_to_input_affine([0, 0, 0, 10], 64, 1.2)


@pytest.mark.parametrize("box", [[100, 80, 180, 170], [-50, -40, 60, 50], [350, 250, 420, 330], [395, 10, 420, 40]])
def test_face_crop_is_the_requested_framing_to_the_sub_pixel(box):
    """The crop is ``box_to_input_affine``'s framing (what ``cv2.warpAffine`` of the whole image
    gives), edges replicated outside the image, and a
    box moved with the image by a fraction of a pixel gives the same crop: the network sees a
    still face identically however the box's sub-pixel position falls (what jitter is measured
    on; a crop snapped to whole source pixels doubled the static-shift jitter)."""
    from edge_landmarks.image import face_crop, shifted_copy

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 3)
    b = np.array(box, float)
    crop, m = face_crop(img, b, 112, 1.5)
    assert crop.shape == (112, 112, 3) and np.allclose(m, box_to_input_affine(b, 112, 1.5))
    warped = cv2.warpAffine(img, m, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(crop.astype(int) - warped)
    assert diff.max() <= 1 and diff.mean() < 0.01  # the same bilinear samples, up to fixed-point rounding
    shift = np.array([0.37, -0.29])
    moved, _ = face_crop(shifted_copy(img, shift, 0.0, rng), b + np.tile(shift, 2), 112, 1.5)
    inside = (slice(20, 92), slice(20, 92)) if min(box) >= 0 and max(box) <= 280 else (slice(None), slice(None))
    assert np.abs(moved[inside].astype(int) - crop[inside]).mean() < 0.6


@pytest.mark.parametrize("color", ["rgb", "bgr"])
def test_network_input_is_the_normalised_crop_in_the_models_channel_order(color):
    """``to_network_input``: BGR crops -> (B, 3, S, S) float32 ``(x / 255 - mean) / std``, the
    channels in the model's order, for one face and for a batch."""
    from edge_landmarks.image import face_crop, to_network_input

    img = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    boxes = [np.array([100.3, 80.6, 180.2, 170.9]), np.array([-50.0, -40.0, 60.0, 50.0])]
    crops = [face_crop(img, b, 96, 1.5)[0] for b in boxes]
    assert crops[0].shape == (96, 96, 3) and crops[0].dtype == np.uint8
    for k in (1, 2):
        x = to_network_input(crops[:k], color, 0.4, 0.2)
        order = [2, 1, 0] if color == "rgb" else [0, 1, 2]
        expected = (np.stack(crops[:k])[..., order].transpose(0, 3, 1, 2) / 255.0 - 0.4) / 0.2
        assert x.shape == (k, 3, 96, 96) and x.dtype == np.float32 and x.flags.c_contiguous
        np.testing.assert_allclose(x, expected, atol=1e-5)


def test_face_crop_of_a_large_face_is_anti_aliased():
    """A face many times the input size is area-averaged, not point-sampled: a one-pixel
    checkerboard comes out mid grey rather than aliased stripes."""
    from edge_landmarks.image import face_crop

    board = ((np.indices((1200, 1200)).sum(0) % 2) * 255).astype(np.uint8)
    crop, _ = face_crop(np.dstack([board] * 3), np.array([100.0, 100.0, 1100.0, 1100.0]), 112, 1.0)
    assert abs(float(crop.mean()) - 127.5) < 3 and crop.std() < 10
