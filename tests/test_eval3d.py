"""``edge-landmarks eval-3d`` end to end on a few synthetic faces (needs the renderer)."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("moderngl")
pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path / "cache"))


def test_eval_3d_writes_the_documented_report_and_refuses_to_overwrite(tmp_path, capsys):
    from export.synthetic.render import RenderUnavailableError, gl_context

    try:
        gl_context()
    except RenderUnavailableError as e:
        pytest.skip(f"no OpenGL context: {e}")
    from edge_landmarks.cli import main

    out = tmp_path / "eval3d.json"
    args = ["eval-3d", "--faces", "16", "--sequences", "1", "--frames", "8", "--backend", "onnxruntime",
            "--precision", "fp32", "--json", str(out)]
    assert main(args) == 0
    rep = json.loads(out.read_text())
    for key in ("pose_mae", "pose_mae_by_yaw", "nme3d", "visibility_f1", "wflw98_nme", "jitter", "jitter_smoothed"):
        assert key in rep, key
    assert 0 < rep["pose_mae"] < 45 and 0 < rep["nme3d"] < 1 and 0.5 < rep["visibility_f1"] <= 1
    assert set(rep["pose_mae_by_yaw"]) == {"0-30", "30-60", "60-90"}
    assert sum(v["n_faces"] for v in rep["pose_mae_by_yaw"].values()) == 16
    assert 0 < rep["jitter_smoothed"] and 0 < rep["jitter"]
    before = out.read_bytes()
    assert main(args) != 0
    assert out.read_bytes() == before
    assert "exists" in capsys.readouterr().err


def test_eval_3d_takes_a_bundle_folder_and_names_a_student_checkpoint(capsys):
    """``--model`` takes a bundle folder (through the runtime, like the default) or a teacher
    checkpoint; a student checkpoint is refused with a message that says how to evaluate it."""
    from pathlib import Path

    from export.synthetic.render import RenderUnavailableError, gl_context

    try:
        gl_context()
    except RenderUnavailableError as e:
        pytest.skip(f"no OpenGL context: {e}")
    import edge_landmarks
    from edge_landmarks.cli import main

    repo = Path(__file__).resolve().parents[1]
    small = ["--faces", "8", "--sequences", "1", "--frames", "8", "--backend", "onnxruntime", "--precision", "fp32"]
    assert main(["eval-3d", "--model", str(Path(edge_landmarks.__file__).parent / "models" / "default"), *small]) == 0
    assert "bundle (onnxruntime fp32)" in capsys.readouterr().out
    assert main(["eval-3d", "--model", str(repo / "export" / "checkpoints" / "student.pt"), *small]) != 0
    err = capsys.readouterr().err
    assert "student checkpoint" in err and "edge-landmarks export" in err
