from __future__ import annotations

import numpy as np
import pytest

from edge_landmarks.layouts import LAYOUTS

cv2 = pytest.importorskip("cv2")
pytest.importorskip("torch")
from edge_landmarks.geometry import apply_affine, box_to_input_affine  # noqa: E402
from export.augment import AugmentConfig, flip_source, frame_face, photometric  # noqa: E402


def _face():
    rng = np.random.default_rng(0)
    pts = rng.uniform(40, 120, (68, 2)).astype(np.float32)
    pts[36], pts[45], pts[0], pts[16], pts[30] = (60, 70), (110, 72), (45, 80), (125, 82), (85, 95)
    return rng.integers(0, 255, (160, 170, 3), dtype=np.uint8), pts


def test_flip_reindexes_symmetric_points():
    """After a flip, point 36 (subject's right eye corner) is again on the image's left."""
    img, pts = _face()
    perm = np.array(LAYOUTS["ibug68"].flip_permutation())
    cfg = AugmentConfig(max_rotation=0, scale_range=(1, 1), max_shift=0, flip_prob=1.0)
    for seed in range(5):
        _, out, m = frame_face(img, pts, 128, 1.6, perm, np.random.default_rng(seed), cfg)
        assert out[36, 0] < out[45, 0] and out[0, 0] < out[16, 0]
        # the flipped input mirrors the unflipped one: x -> size - 1 - x
        plain = cv2.transform(pts[None], np.asarray(m))[0]
        assert np.allclose(out[perm], plain, atol=1e-3)


def test_framing_without_rng_is_centred_and_exact():
    img, pts = _face()
    crop, out, m = frame_face(img, pts, 128, 1.6, np.arange(68), None, AugmentConfig())
    assert crop.shape == (128, 128, 3)
    lo, hi = out.min(0), out.max(0)
    assert np.allclose((lo + hi) / 2, 63.5, atol=1e-3)
    assert np.isclose((hi - lo).max(), 128 / 1.6, atol=1e-3)


def test_augmentation_is_deterministic_per_seed_and_keeps_points_with_the_pixels():
    img, pts = _face()
    perm = np.array(LAYOUTS["ibug68"].flip_permutation())
    a = frame_face(img, pts, 128, 1.6, perm, np.random.default_rng(7), AugmentConfig())
    b = frame_face(img, pts, 128, 1.6, perm, np.random.default_rng(7), AugmentConfig())
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    marked = np.zeros_like(img)
    marked[94:97, 83:88] = 255  # a blob around landmark 30 at (85, 95)
    warped, out, _ = frame_face(marked, pts, 128, 1.6, np.arange(68), np.random.default_rng(3),
                                AugmentConfig(flip_prob=0.0))
    ys, xs = np.nonzero(warped[..., 0] > 128)
    assert np.hypot(xs.mean() - out[30, 0], ys.mean() - out[30, 1]) < 1.5
    p = photometric(warped, np.random.default_rng(1), AugmentConfig())
    assert p.shape == warped.shape and p.dtype == np.uint8


def test_flip_keeps_the_labels_x_offset_in_the_face_frame():
    """Labels sitting d px right of the true points must sit d px (times the framing scale)
    towards the image right of the mirrored face too, turned with the mirrored face."""
    d, size = 1.5, 128
    true = np.array([[40.0, 50.0], [70.0, 52.0], [55.0, 80.0]])
    box = np.array([30.0, 40.0, 80.0, 90.0])
    for rot in (0.0, 30.0):
        plain = box_to_input_affine(box, size, 1.6, rotation_deg=rot)
        mirrored = box_to_input_affine(box, size, 1.6, rotation_deg=rot, flip=True)
        s = np.sqrt(abs(np.linalg.det(plain[:, :2])))
        a = np.deg2rad(rot)
        # the mirrored face appears turned by -rot: its "right" is the x axis turned by -rot
        offset = s * d * np.array([np.cos(-a), -np.sin(-a)])
        expected = apply_affine(mirrored, true) + offset
        got = apply_affine(mirrored, flip_source(true + [d, 0.0], True, d))
        np.testing.assert_allclose(got, expected, atol=1e-9)
        np.testing.assert_allclose(apply_affine(plain, flip_source(true + [d, 0.0], False, d)),
                                   apply_affine(plain, true + [d, 0.0]), atol=1e-9)
