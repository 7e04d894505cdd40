"""The bundle shipped in the package: verified, small, accurate on real faces on every backend,
and its localiser and face score behave (uses ../shared/data/ytf68)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edge_landmarks import Runtime
from edge_landmarks.bundle import DEFAULT_BUNDLE, Bundle
from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.geometry import tight_box
from edge_landmarks.metrics import nme_per_face


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def val_faces(ytf68_dir):
    _, val = train_val(load_ytf68(ytf68_dir))
    return val[::14][:30]


def test_default_bundle_is_complete_and_small():
    b = Bundle.load()
    # one float reference (ONNX Runtime fp32), int8 on every backend, float16 weights for TFLite
    assert {(m.backend, m.precision) for m in b.models} == {
        ("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "int8"), ("tflite", "fp16"), ("tflite", "int8")}
    total = sum(p.stat().st_size for p in DEFAULT_BUNDLE.iterdir())
    assert total < 8 * 2**20
    for m in b.entries(precision="int8"):
        assert len(m.files) >= 1 and m.size_bytes < 2**20, m.backend
    manifest = json.loads((DEFAULT_BUNDLE / "manifest.json").read_text())
    assert manifest["command"].startswith("edge-landmarks export") and "research use only" in manifest["licence"]
    for m in manifest["models"]:
        assert m["accuracy"]["n_faces"] == 420


def test_default_int8_weights_fit_in_7_bits():
    """Exported with reduce_range / NNCF's overflow fix, so CPUs without VNNI do not saturate
    (tests/test_backends.py: test_int8_weights_fit_in_7_bits)."""
    pytest.importorskip("onnx")
    pytest.importorskip("openvino")
    from quantized import largest_int8_weight

    for m in Bundle.load().entries(precision="int8"):
        if m.backend in ("onnxruntime", "openvino"):
            assert largest_int8_weight(m.backend, m.path) <= 64, m.backend


def test_accuracy_and_backend_agreement_on_real_faces(val_faces):
    gt = np.stack([s.landmarks for s in val_faces])
    images = [s.load_image() for s in val_faces]
    boxes = [tight_box(s.landmarks) for s in val_faces]
    preds = {}
    for m in Bundle.load().models:
        rt = Runtime(backend=m.backend, precision=m.precision, threads=1, score_threshold=0)
        preds[(m.backend, m.precision)] = np.stack([rt.detect(i, [b])[0].landmarks for i, b in zip(images, boxes)])
    ref = preds[("onnxruntime", "fp32")]
    assert nme_per_face(ref, gt).mean() < 0.10
    for (backend, precision), p in preds.items():
        if precision in ("fp32", "fp16"):  # float16 weights: 0.2 px at most (the refinement reads its map at 1/32 cell)
            err = np.abs(p - ref).max()
            assert err < (0.05 if precision == "fp32" else 0.25), (backend, precision, err)
        else:  # int8: point distance to fp32 per inter-ocular distance; rare faces deviate more
            err = nme_per_face(p, ref)
            assert err.mean() < 0.02 and np.percentile(err, 90) < 0.03, (backend, precision, err)
        assert nme_per_face(p, gt).mean() < 1.05 * nme_per_face(ref, gt).mean() + 0.002


def test_localiser_finds_a_loosely_framed_face_and_rejects_no_face(val_faces):
    rt = Runtime(backend="onnxruntime", precision="fp32")
    found = 0
    for s in val_faces[:10]:
        faces = rt.detect(s.load_image())
        if faces and nme_per_face(faces[0].landmarks[None], s.landmarks[None])[0] < 0.15:
            found += 1
    assert found >= 8
    assert rt.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    assert rt.detect(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)) == []


def test_yaw_sign_on_mirrored_faces(val_faces):
    """Positive yaw when the nose is left of the eyes in the image; a mirrored face has the opposite yaw."""
    from calibration import yaw_proxy

    rt = Runtime(backend="onnxruntime", precision="fp32", score_threshold=0)
    turned = 0
    for s in val_faces:
        img, b = s.load_image(), tight_box(s.landmarks)
        w = img.shape[1]
        yaw = rt.detect(img, [b])[0].pose.yaw
        yaw_m = rt.detect(np.ascontiguousarray(img[:, ::-1]), [[w - 1 - b[2], b[1], w - 1 - b[0], b[3]]])[0].pose.yaw
        if abs(yaw) > 10:
            turned += 1
            assert np.sign(yaw) == -np.sign(yaw_m) and abs(yaw + yaw_m) < 0.5 * abs(yaw) + 5
            if abs(yaw_proxy(s.landmarks)) > 0.1:
                assert np.sign(yaw) == -np.sign(yaw_proxy(s.landmarks))
    assert turned >= 3


def test_tracking_follows_sub_pixel_motion_and_smoothing_steadies_it(val_faces):
    """Video mode on copies of a still face moved by random sub-pixel shifts, with noise, for
    six faces: the crop follows the face's optical flow (from frame to frame, its box minus the
    shift moves less than 0.15x as much as the shifts), and the smoothed landmarks, shift
    subtracted, spread less than 0.6x as much as per-image predictions given the exactly shifted
    box, summed over the faces (0.45x for the shipped bundle; single faces range 0.3-0.8x). Without
    ``motion`` the crop is kept still instead (the landmarks' noise is not fed back into the
    framing)."""
    from edge_landmarks.image import shifted_copy

    kw = dict(backend="onnxruntime", precision="fp32", threads=1, score_threshold=0)
    image_mode = Runtime(**kw)
    step = lambda x: np.abs(np.diff(np.asarray(x)[2:], axis=0)).mean()  # noqa: E731
    spread = lambda lm: np.linalg.norm(np.asarray(lm[10:]) - np.mean(lm[10:], axis=0), axis=-1).mean()  # noqa: E731
    spreads = []
    for s in val_faces[:6]:
        image, box = s.load_image(), tight_box(s.landmarks)
        rng = np.random.default_rng(0)
        shifts = rng.uniform(-0.5, 0.5, (40, 2))
        frames = [shifted_copy(image, d, 2.0, rng) for d in shifts]
        raw = [image_mode.detect(f, [box + np.tile(d, 2)])[0].landmarks - d for f, d in zip(frames, shifts)]
        video = Runtime(mode="video", detector=lambda img, box=box: [box], **kw)
        still = Runtime(mode="video", detector=lambda img, box=box: [box], motion=None, **kw)
        smooth, framed, kept = [], [], []
        for i, (f, d) in enumerate(zip(frames, shifts)):
            smooth.append(video.track(f, timestamp=i / 30)[0].landmarks - d)
            framed.append(video._track["box"] - np.tile(d, 2))
            still.track(f, timestamp=i / 30)
            kept.append(still._track["box"].copy())
        assert step(framed) < 0.15 * step(np.tile(shifts, 2)), s.name
        assert all(np.array_equal(kept[5], c) for c in kept[5:]), s.name
        spreads.append((spread(smooth), spread(raw)))
    smooth_total, raw_total = np.sum(spreads, axis=0)
    assert smooth_total < 0.6 * raw_total, spreads


def test_scan_finds_each_face_of_a_mosaic_once(val_faces):
    """``detector="scan"`` on three faces side by side: each found (NME under 15 %), and
    the parts of a face that also score as faces do not come back as extra faces."""
    from benchmarks.scan_mosaic import matches, mosaic

    image, truths = mosaic(val_faces, np.random.default_rng(1))
    faces = Runtime(backend="onnxruntime", precision="fp32", detector="scan").detect(image)
    near = matches(faces, truths)
    assert near.any(0).all() and len(faces) <= 4, near
