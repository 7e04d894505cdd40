"""Runtime, bundle and export tests on a tiny random student (seconds, no training):
backend parity with PyTorch, bundle verification, result types, conventions, bad input,
thread safety, backend selection and its cache."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_landmarks import Runtime
from edge_landmarks.bundle import Bundle
from edge_landmarks.decode import Tail, euler_yaw_pitch_roll
from edge_landmarks.errors import BackendUnavailableError, BundleError, InputError
from edge_landmarks.image import face_crop, to_network_input
from edge_landmarks.results import Face

BOX = np.array([30.0, 40.0, 110.0, 130.0], np.float32)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (160, 140, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(img[::4, ::4], 4, 0), 4, 1)[:160, :140])


def _models(bundle_dir):
    return [(m.backend, m.precision) for m in Bundle.load(bundle_dir).models]


def test_every_fp32_backend_matches_pytorch(tiny_bundle, tiny_student, image):
    """Landmarks within 0.05 px at the model's input size, pose within 0.1 degrees."""
    torch = pytest.importorskip("torch")
    from export.distill import face_tensors, load_student

    model, face, _ = load_student(tiny_student)
    b = Bundle.load(tiny_bundle)
    crop, _ = face_crop(image, BOX, b.input.size, b.input.enlarge)
    x = to_network_input([crop], b.input.color, b.input.mean, b.input.std)
    ft = face_tensors(face)
    with torch.no_grad():
        ref = model(torch.as_tensor(x), {"p": (*model.layout_rows("ibug68"), ft["normals"][ft["ibug68"]])})["p"]
    ref_lm, ref_pose = ref["landmarks"].numpy()[0], euler_yaw_pitch_roll(ref["rotation"].numpy())[0]
    checked = 0
    for backend, precision in _models(tiny_bundle):
        if precision != "fp32":
            continue
        rt = Runtime(tiny_bundle, backend=backend, precision="fp32", threads=1)
        d = b.tail.decode(rt._model.run(x), b.tail.point_set(b.face, "ibug68"))
        assert np.abs(d.landmarks[0] - ref_lm).max() < 0.05, backend
        assert np.abs(euler_yaw_pitch_roll(d.rotation)[0] - ref_pose).max() < 0.1, backend
        checked += 1
    assert checked >= 1


def test_same_answer_on_every_backend(tiny_bundle, image):
    """fp32 on every backend within 0.05 px in image pixels; int8 within 3 % of the face size."""
    results = {}
    for backend, precision in _models(tiny_bundle):
        faces = Runtime(tiny_bundle, backend=backend, precision=precision, threads=1, score_threshold=0).detect(image, [BOX])
        assert len(faces) == 1
        results[(backend, precision)] = faces[0]
    ref = next(f for (b, p), f in results.items() if p == "fp32")
    size = float(BOX[2] - BOX[0])
    for (backend, precision), f in results.items():
        err = np.abs(f.landmarks - ref.landmarks).max()
        assert err < (0.05 if precision == "fp32" else 0.03 * size), (backend, precision, err)


def test_face_result_types_and_frames(tiny_bundle, image):
    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=0)
    (f,) = rt.detect(image, [BOX])
    assert isinstance(f, Face) and f.layout == "ibug68"
    assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.float32
    assert f.landmarks_3d.shape == (68, 3) and f.visibility.shape == (68,)
    assert f.pose.rotation.shape == (3, 3) and np.allclose(f.pose.rotation @ f.pose.rotation.T, np.eye(3), atol=1e-4)
    assert 0 <= f.score <= 1 and np.all((f.visibility >= 0) & (f.visibility <= 1))
    # projecting landmarks_3d with the face's virtual camera gives the 2D landmarks
    p = f.landmarks_3d[:, :2] / f.landmarks_3d[:, 2:] * f.focal_length + f.camera_center
    assert np.abs(p - f.landmarks).max() < 1e-2
    # the box frames the landmarks
    assert np.allclose(f.box, np.r_[f.landmarks.min(0), f.landmarks.max(0)], atol=1e-3)
    json.dumps(f.to_dict())


def test_layouts_custom_points_without_reexport(tiny_bundle, image):
    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=0)
    b = rt.bundle
    (ibug,) = rt.detect(image, [BOX])
    rt.set_layout("wflw98")
    assert rt.detect(image, [BOX])[0].landmarks.shape == (98, 2)
    ids = b.face.layout_vertices("ibug68")[:5]
    rt.set_layout(np.asarray(ids, np.int64))
    (custom,) = rt.detect(image, [BOX])
    assert custom.layout == "custom" and custom.landmarks.shape == (5, 2)
    tri = b.face.triangles[10]
    rt.set_layout(np.array([[10, 1.0, 0.0, 0.0], [10, 0.0, 0.0, 1.0]]))
    (bary,) = rt.detect(image, [BOX])
    rt.set_layout(np.array([tri[0], tri[2]]))
    (verts,) = rt.detect(image, [BOX])
    assert np.abs(bary.landmarks - verts.landmarks).max() < 1e-3
    with pytest.raises(InputError):
        rt.set_layout("no-such-layout")
    with pytest.raises(InputError):
        rt.set_layout(np.array([10**7]))


def test_yaw_sign_convention():
    """A head turned by +30 degrees yaw (R = Ry(30)) moves the nose towards the image's left and
    reads back as yaw +30."""
    k, f = 2, 4
    a = np.deg2rad(30)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    bias = np.zeros(k + 11, np.float32)
    bias[k:k + 6] = np.r_[ry[:, 0], ry[:, 1]]
    mean = np.array([[0, 0, 0], [0, 0, 30.0], [30.0, 0, 0]], np.float32)  # origin, nose tip (+z), subject's left
    tail = Tail(np.zeros((f, k + 11), np.float32), bias, 96, 600.0, 2.9, mean, np.zeros((k, 3, 3), np.float32),
                {}, {})
    from edge_landmarks.decode import PointSet

    d = tail.decode(np.zeros((1, f), np.float32), PointSet(mean, np.zeros((k, 3, 3), np.float32), np.eye(3, dtype=np.float32)))
    yaw, pitch, roll = euler_yaw_pitch_roll(d.rotation)[0]
    assert abs(yaw - 30) < 1e-4 and abs(pitch) < 1e-4 and abs(roll) < 1e-4
    assert d.landmarks[0, 1, 0] < d.landmarks[0, 0, 0]  # nose left of the head origin in the image
    frontal = Tail(tail.weight, np.r_[np.zeros(k), [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]].astype(np.float32), 96, 600.0, 2.9,
                   mean, tail.dense_basis, {}, {})
    d0 = frontal.decode(np.zeros((1, f), np.float32), PointSet(mean, np.zeros((k, 3, 3), np.float32), np.eye(3, dtype=np.float32)))
    assert d0.landmarks[0, 2, 0] > d0.landmarks[0, 0, 0]  # subject's left is image right when frontal


def test_input_formats_agree(tiny_bundle, image, tmp_path):
    import cv2

    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=0)
    ref = rt.detect(image, [BOX])[0].landmarks
    rgb = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=0, color="rgb")
    assert np.allclose(rgb.detect(image[:, :, ::-1].copy(), [BOX])[0].landmarks, ref, atol=1e-4)
    bgra = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    assert np.allclose(rt.detect(bgra, [BOX])[0].landmarks, ref, atol=1e-4)
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), image)
    assert np.allclose(rt.detect(str(path), [BOX])[0].landmarks, ref, atol=1e-4)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert rt.detect(gray, [BOX])[0].landmarks.shape == (68, 2)


@pytest.mark.parametrize("bad", [
    np.zeros((0, 10, 3), np.uint8), np.zeros((10, 0), np.uint8), np.zeros((20, 20, 3), np.float32),
    np.full((20, 20, 3), np.nan, np.float32), np.zeros((20, 20, 5), np.uint8), np.zeros((2, 20, 20, 3), np.uint8),
    "no/such/file.png", 12,
])
def test_bad_images_raise_input_error(tiny_bundle, bad):
    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32")
    with pytest.raises(InputError):
        rt.detect(bad, [BOX])


@pytest.mark.parametrize("box", [[10, 10, 10, 50], [500, 500, 600, 600], [0, 0, np.nan, 5], [1, 2, 3]])
def test_bad_boxes_raise_input_error(tiny_bundle, image, box):
    with pytest.raises(InputError):
        Runtime(tiny_bundle, backend="onnxruntime", precision="fp32").detect(image, [box])


def test_huge_image_and_no_face(tiny_bundle):
    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=0)
    big = np.zeros((4320, 7680, 3), np.uint8)
    big[1000:3000, 3000:5000] = 128
    (f,) = rt.detect(big, [[3000, 1000, 5000, 3000]])
    assert np.all(np.isfinite(f.landmarks))
    strict = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=1.01)
    assert strict.detect(big) == []
    assert rt.detect(big, []) == []


def test_detect_is_thread_safe(tiny_bundle, image):
    for backend, precision in _models(tiny_bundle):
        rt = Runtime(tiny_bundle, backend=backend, precision=precision, score_threshold=0, threads=1)
        boxes = [BOX + k for k in range(8)]
        serial = [rt.detect(image, [b])[0].landmarks for b in boxes]
        out = [None] * len(boxes)

        def work(i):
            out[i] = rt.detect(image, [boxes[i]])[0].landmarks

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(boxes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a, b in zip(serial, out):
            assert np.array_equal(a, b), backend


def test_tampered_truncated_or_incomplete_bundles_are_refused(tiny_bundle, tmp_path):
    def copy():
        d = tmp_path / f"b{len(list(tmp_path.iterdir()))}"
        shutil.copytree(tiny_bundle, d)
        return d

    d = copy()
    model = next(d.glob("model.fp32.onnx"))
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(BundleError, match="model.fp32.onnx"):
        Bundle.load(d)
    d = copy()
    (d / "tail.npz").write_bytes((d / "tail.npz").read_bytes()[:100])
    with pytest.raises(BundleError, match="tail.npz"):
        Bundle.load(d)
    d = copy()
    (d / "canonical.npz").unlink()
    with pytest.raises(BundleError, match="canonical.npz"):
        Bundle.load(d)
    d = copy()
    m = json.loads((d / "manifest.json").read_text())
    m["format_version"] = 99
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="format version 99"):
        Bundle.load(d)
    d = copy()
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="manifest.json"):
        Bundle.load(d)
    with pytest.raises(BundleError):
        Bundle.load(tmp_path / "nowhere")


def test_zipped_bundle_loads(tiny_bundle, tmp_path):
    z = shutil.make_archive(str(tmp_path / "tiny"), "zip", tiny_bundle.parent, tiny_bundle.name)
    assert Bundle.load(z).models
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(BundleError):
        Bundle.load(bad)


def test_manifest_records_what_users_need(tiny_bundle):
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    assert m["format_version"] == 1 and "research use only" in m["licence"]
    assert set(m["layouts"]) == {"ibug68", "wflw98"}
    assert len(m["layouts"]["ibug68"]["flip_permutation"]) == 68
    assert {"fp32", "int8"} <= {x["precision"] for x in m["models"]}
    assert "float" in m["float_tail"] and m["input"]["size"] == 32 and m["command"]
    for x in m["models"]:
        assert all(len(f["sha256"]) == 64 for f in x["files"])


def test_auto_choice_is_measured_then_cached(tiny_bundle, monkeypatch):
    from edge_landmarks import selection

    rt = Runtime(tiny_bundle, threads=1)
    assert (rt.backend, rt.precision) in _models(tiny_bundle)
    fastest = min(t.median_ms for t in rt.timings if t.accepted)
    chosen = next(t for t in rt.timings if (t.backend, t.precision) == (rt.backend, rt.precision))
    assert chosen.accepted and chosen.median_ms <= selection.SPEED_TIE * fastest

    def no_measuring(*a, **k):
        raise AssertionError("measured again despite a cached choice")

    monkeypatch.setattr(selection, "measure", no_measuring)
    again = Runtime(tiny_bundle, threads=1)
    assert (again.backend, again.precision) == (rt.backend, rt.precision)
    with pytest.raises(AssertionError):  # a new device key (here: thread count) measures again
        Runtime(tiny_bundle, threads=2)


def test_auto_choice_takes_the_most_accurate_of_equally_fast_models(tiny_bundle):
    """Within SPEED_TIE of the fastest, the lowest export-time NME wins; a clearly faster model
    wins whatever its accuracy; a model outside the accuracy tolerance never does."""
    from edge_landmarks.selection import SPEED_TIE, Timing, pick

    b = Bundle.load(tiny_bundle)
    fp32, int8 = b.entries(precision="fp32")[0], b.entries(precision="int8")[0]
    fp32.accuracy["nme_mean"], int8.accuracy["nme_mean"] = 0.0471, 0.0475

    def table(t32, t8, int8_ok=True):
        return [Timing(fp32.backend, "fp32", t32, t32, 10, True), Timing(int8.backend, "int8", t8, t8, 10, int8_ok)]

    assert pick(b, table(1.0 * SPEED_TIE - 1e-6, 1.0)).precision == "fp32"
    assert pick(b, table(1.0 * SPEED_TIE + 0.01, 1.0)).precision == "int8"
    assert pick(b, table(2.0, 1.0, int8_ok=False)).precision == "fp32"
    with pytest.raises(BackendUnavailableError):
        pick(b, [])


def test_a_model_that_deviates_more_on_this_device_than_at_export_is_not_chosen(tiny_bundle, monkeypatch):
    """Every reduced-precision model records its deviation from fp32 on the seeded probe at
    export; on a device where it deviates more (here: its outputs disturbed, as saturating int8
    kernels do) the measurement rejects it, and the auto choice never takes it."""
    from edge_landmarks import selection
    from edge_landmarks.backends import backend_class

    b = Bundle.load(tiny_bundle)
    for m in b.models:
        assert ("probe_rms" in m.accuracy) == (m.precision != "fp32"), (m.backend, m.precision)
    assert all(0 < m.accuracy["probe_rms"] < 0.2 for m in b.entries(precision="int8"))
    assert all(t.accepted for t in selection.measure(b, 1, budget_s=0.01))

    victim = b.entries(precision="int8")[0]
    cls = backend_class(victim.backend)
    clean = cls.run

    def saturating(self, x):
        y = clean(self, x)
        if Path(self.path).resolve() == Path(victim.path).resolve():
            y = y + 0.5 * y.std() * np.random.default_rng(0).standard_normal(y.shape).astype(np.float32)
        return y

    monkeypatch.setattr(cls, "run", saturating)
    table = {(t.backend, t.precision): t for t in selection.measure(b, 1, budget_s=0.01)}
    bad = table[(victim.backend, "int8")]
    assert not bad.accepted and "deviates from fp32" in bad.note
    assert all(t.accepted for k, t in table.items() if k != (victim.backend, "int8"))


def test_benchmark_prints_the_table_it_chose_from(tiny_bundle, tmp_path, monkeypatch, capsys):
    """`edge-landmarks benchmark` measures, caches its choice, and shows that same table."""
    from edge_landmarks.cli import main
    from edge_landmarks.selection import choose

    monkeypatch.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path))
    assert main(["benchmark", "--bundle", str(tiny_bundle), "--threads", "1", "--seconds", "0.05"]) == 0
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines()[2:]]
    marked = [ln[:2] for ln in lines if "<-" in ln]
    backend, precision, cached = choose(Bundle.load(tiny_bundle), 1)  # from the cache: no new measurement
    assert marked == [[backend, precision]]
    assert {(ln[0], ln[1], ln[2]) for ln in lines} == {(t.backend, t.precision, f"{t.median_ms:.3f}") for t in cached}


def test_missing_backend_names_the_extra(tiny_bundle, monkeypatch):
    from edge_landmarks.backends import backend_class

    cls = backend_class("openvino")
    monkeypatch.setattr(cls, "available", classmethod(lambda c: False))
    with pytest.raises(BackendUnavailableError, match=r"edge-landmarks\[openvino\]"):
        Runtime(tiny_bundle, backend="openvino", precision="fp32")
    with pytest.raises(InputError):
        Runtime(tiny_bundle, backend="nonesuch", precision="fp32")


def test_tracking_returns_one_face_per_frame(tiny_bundle, image):
    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", mode="video", score_threshold=0)
    for i in range(5):
        (f,) = rt.track(image, timestamp=i / 30)
        assert f.landmarks.shape == (68, 2) and np.all(np.isfinite(f.landmarks))
    assert len(rt.detect(image)) == 1  # video mode: detect without boxes tracks
    rt.reset_track()
    lost = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", mode="video", score_threshold=1.01)
    assert lost.track(image) == []


def test_one_euro_filter_steadies_a_still_signal_and_follows_motion():
    from edge_landmarks.smoothing import OneEuroFilter, OneEuroSettings

    rng = np.random.default_rng(0)
    f = OneEuroFilter(OneEuroSettings())
    still = [f(np.array([10.0]) + rng.normal(0, 0.5, 1), 1 / 30, scale=50.0) for _ in range(200)]
    assert np.std(np.diff(np.ravel(still[50:]))) < 0.3 * np.std(np.diff(rng.normal(0, 0.5, 200)))
    g = OneEuroFilter(OneEuroSettings())
    ramp = [g(np.array([5.0 * i]), 1 / 30, scale=50.0) for i in range(120)]
    assert abs(ramp[-1][0] - 5.0 * 119) < 5.0 * 6  # lags a fast move by at most a few frames


def test_runtime_never_imports_torch(tiny_bundle):
    code = ("import sys, numpy as np; from edge_landmarks import Runtime; "
            f"rt = Runtime(r'{tiny_bundle}', threads=1, score_threshold=0); "
            "rt.detect(np.zeros((100, 100, 3), np.uint8), [[20, 20, 80, 80]]); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_euro_filter_averages_its_first_samples_and_moves_with_known_motion():
    """Until its time constant is reached the filter is the running mean of what it has seen (a
    first noisy sample does not linger), and ``move`` carries its state along known motion."""
    from edge_landmarks.smoothing import OneEuroFilter, OneEuroSettings

    f = OneEuroFilter(OneEuroSettings(min_cutoff=0.01, beta=0.0))
    out = [f(np.array([x]), 1 / 30) for x in (3.0, 1.0, 2.0)]
    assert [o[0] for o in out] == pytest.approx([3.0, 2.0, 2.0])
    f.move(lambda x: x + 10.0)
    assert f(np.array([12.0]), 1 / 30)[0] == pytest.approx(12.0)


def test_crop_motion_recovers_a_sub_pixel_similarity():
    """Optical flow of points on a textured crop: a known shift, turn and zoom is recovered to a
    few hundredths of a pixel; flat images give None instead of a guess."""
    from edge_landmarks.motion import crop_motion

    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.integers(0, 256, (112, 112), dtype=np.uint8), (0, 0), 2)
    m = cv2.getRotationMatrix2D((55.5, 55.5), 1.5, 1.02)
    m[:, 2] += (0.37, -0.61)
    b = cv2.warpAffine(a, m, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    pts = rng.uniform(25, 87, (26, 2))
    got = crop_motion(a, b, pts)
    assert got is not None
    assert np.abs(pts @ got[:, :2].T + got[:, 2] - (pts @ m[:, :2].T + m[:, 2])).max() < 0.05
    flat = np.full((112, 112), 128, np.uint8)
    assert crop_motion(flat, flat, pts) is None


def test_non_finite_model_output_is_an_input_error(tiny_bundle, image, monkeypatch):
    """A NaN or infinite feature (e.g. from an extreme input on a broken runtime) is refused with
    InputError instead of returning NaN landmarks."""
    rt = Runtime(tiny_bundle, backend="onnxruntime", precision="fp32", score_threshold=0)
    for bad in (np.nan, np.inf):
        def run(x, bad=bad):
            out = np.zeros((len(x), rt.bundle.tail.output_size), np.float32)
            out[0, 3] = bad
            return out
        monkeypatch.setattr(rt._model, "run", run)
        with pytest.raises(InputError, match="non-finite"):
            rt.detect(image, [BOX])


def test_reduced_precisions_are_checked_against_the_float_reference_even_on_another_backend(tmp_path):
    """``selection.accepted``: an int8 or float16 model is refused when its export-time NME is
    over 1.05x that of its backend's fp32 model or, when its backend has none, of the bundle's
    fp32 model on another backend."""
    from edge_landmarks.bundle import Bundle, ModelEntry
    from edge_landmarks.selection import accepted

    def entry(backend, precision, nme):
        return ModelEntry(backend, precision, tmp_path / f"{backend}.{precision}", {"nme_mean": nme})

    class Fake(Bundle):
        def __init__(self, models):
            self.models = models

    b = Fake([entry("onnxruntime", "fp32", 0.050), entry("onnxruntime", "int8", 0.051),
              entry("tflite", "int8", 0.0530), entry("tflite", "fp16", 0.0501), entry("openvino", "int8", 0.060)])
    assert accepted(b, "onnxruntime", "int8")[0] and accepted(b, "tflite", "fp16")[0]
    assert not accepted(b, "tflite", "int8")[0]  # 1.06x the ONNX Runtime fp32 reference
    ok, why = accepted(b, "openvino", "int8")
    assert not ok and "5.00 %" in why
