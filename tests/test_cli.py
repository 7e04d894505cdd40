from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edge_landmarks.cli import main  # noqa: E402
from edge_landmarks.errors import BundleError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised small teacher saved as a checkpoint (no training, no shared data)."""
    from edge_landmarks.canonical import CanonicalFace
    from export.checkpoint import save_checkpoint
    from export.config import TeacherConfig
    from export.models import Teacher
    from edge_landmarks.layouts import LAYOUTS

    rng = np.random.default_rng(0)
    v = (rng.normal(size=(200, 3)) * 40).astype(np.float32)
    v[:, 0] = np.abs(v[:, 0])
    v = np.concatenate([v, v * np.array([-1, 1, 1], np.float32)])
    mirror = np.concatenate([np.arange(200, 400), np.arange(200)]).astype(np.int32)
    ids = np.zeros(68, np.int32)
    for i, j in LAYOUTS["ibug68"].mirror_pairs:
        ids[i], ids[j] = i, i + 200
    centre = [k for k in range(68) if k not in {p for pair in LAYOUTS["ibug68"].mirror_pairs for p in pair}]
    v[centre, 0] = 0
    mirror[centre] = centre
    ids[centre] = centre
    n = v / np.linalg.norm(v, axis=1, keepdims=True)
    face = CanonicalFace(v, np.array([[0, 1, 2]], np.int32), n.astype(np.float32), mirror, {"ibug68": ids})
    cfg = TeacherConfig.from_dict(dict(widths=[8, 16, 16, 32], descriptor=32, crop_size=64, input={"size": 64, "enlarge": 1.6}))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, Teacher(cfg).eval(), face)
    return path


@pytest.fixture()
def ytf_folder(tmp_path):
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(1)
    rows = ["image," + ",".join(f"x{i},y{i}" for i in range(68))]
    for k in range(3):
        name = f"Some_Person_{k}{k}.jpg"
        cv2.imwrite(str(tmp_path / "images" / name), rng.integers(0, 255, (120, 100, 3), dtype=np.uint8))
        pts = rng.uniform(30, 80, (68, 2))
        pts[36], pts[45] = (35, 50), (70, 50)
        rows.append(name + "," + ",".join(f"{c:.2f}" for c in pts.ravel()))
    (tmp_path / "landmarks.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_eval_writes_report_and_refuses_to_overwrite(tiny_checkpoint, ytf_folder, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_checkpoint), "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert {"nme_mean", "nme_median", "fr10", "auc10", "n_faces"} <= rep.keys()
    assert rep["n_faces"] == 3 and len(rep["per_face"]) == 3
    assert rep["nme_mean"] > 0 and 0 <= rep["fr10"] <= 1
    before = out.read_text()
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_checkpoint), "--json", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_text() == before
    flipped = tmp_path / "flipped.json"
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_checkpoint), "--flip-test", "--json", str(flipped)]) == 0
    assert json.loads(flipped.read_text())["nme_mean"] != rep["nme_mean"]


def test_detect_draws_and_never_overwrites(tiny_bundle, ytf_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path / "cache"))
    img = next((ytf_folder / "images").iterdir())
    out = tmp_path / "drawn.png"
    args = ["detect", str(img), "--model", str(tiny_bundle), "--box", "20,20,90,100", "--out", str(out),
            "--min-score", "0"]
    assert main(args + ["--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    (face,) = res["faces"]
    assert np.asarray(face["landmarks"]).shape == (68, 2) and {"yaw", "pitch", "roll"} <= set(face["pose"])
    assert cv2.imread(str(out)).shape == (120, 100, 3)
    out.write_bytes(b"user data")
    assert main(args) == 2
    assert out.read_bytes() == b"user data"
    folder_out = tmp_path / "drawn"
    assert main(["detect", str(ytf_folder / "images"), "--model", str(tiny_bundle), "--out", str(folder_out), "--json",
                 "--min-score", "0"]) == 0
    assert len(list(folder_out.glob("*.png"))) == 3


def test_detect_rejects_bad_inputs(tiny_bundle, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["detect", str(bad), "--model", str(tiny_bundle)]) == 2
    assert "cannot decode image" in capsys.readouterr().err
    good = tmp_path / "ok.png"
    cv2.imwrite(str(good), np.zeros((50, 50, 3), np.uint8))
    assert main(["detect", str(good), "--model", str(tiny_bundle), "--box", "10,10,10,40"]) == 2
    assert "zero or negative area" in capsys.readouterr().err
    assert main(["detect", str(tmp_path / "missing.png"), "--model", str(tiny_bundle)]) == 2


def test_eval_of_a_bundle_runs_through_the_runtime(tiny_bundle, ytf_folder, capsys):
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_bundle), "--backend", "onnxruntime",
                 "--precision", "int8"]) == 0
    assert "faces 3" in capsys.readouterr().out
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_bundle), "--flip-test"]) == 2
    assert "the flip test is a teacher's" in capsys.readouterr().err


def test_corrupt_checkpoint_is_a_bundle_error(tmp_path):
    from export.checkpoint import load_checkpoint

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(BundleError, match="bad.pt"):
        load_checkpoint(bad)
    with pytest.raises(BundleError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_runtime_import_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, edge_landmarks, edge_landmarks.cli, edge_landmarks.metrics, edge_landmarks.data; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_eval_people_filter_uses_the_committed_split(tiny_checkpoint, ytf_folder, capsys):
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_checkpoint), "--people", "val"]) == 2
    assert "no faces of the val people" in capsys.readouterr().err
    assert main(["eval", "--data", str(ytf_folder), "--model", str(tiny_checkpoint), "--people", "train"]) == 0
    assert "faces 3" in capsys.readouterr().out


def test_export_only_builds_exactly_the_listed_models(tiny_student, tmp_path, capsys):
    """``export --only``: per-target precisions (a float reference on one runtime, float16 on
    another); the manifest lists exactly those models, the fp32 sources of the others are not
    left in the folder, and a malformed or impossible list is refused before anything is written."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("ai_edge_quantizer")
    from edge_landmarks import Runtime

    out = tmp_path / "b"
    assert main(["export", "--student", str(tiny_student), "--only", "onnx:fp32,tflite:fp16", "--out", str(out), "--no-eval"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted((m["target"], m["precision"]) for m in manifest["models"]) == [("onnx", "fp32"), ("tflite", "fp16")]
    assert sorted(p.name for p in out.glob("model.*")) == ["model.fp16.tflite", "model.fp32.onnx"]
    assert Runtime(out, backend="tflite", precision="fp16", threads=1).precision == "fp16"
    capsys.readouterr()
    assert main(["export", "--student", str(tiny_student), "--only", "onnx", "--out", str(tmp_path / "c")]) == 2
    assert "TARGET:PRECISION pairs" in capsys.readouterr().err
    assert main(["export", "--student", str(tiny_student), "--only", "onnx:fp64", "--out", str(tmp_path / "d")]) == 2
    assert "precisions ['fp64'] asked" in capsys.readouterr().err
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()
