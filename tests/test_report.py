"""benchmarks/report.py: its pure functions only (jitter metric, tables, ownership of files); the
benchmark itself is not run here."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.report import (  # noqa: E402
    MARKER,
    Results,
    _pose_section,
    _sequence_section,
    deg,
    jitter_per_face,
    markdown_table,
    owned,
    pareto_front,
    safe_ratio,
    sequence_ratios,
    shifted_copy,
    status,
    targets,
)
from edge_landmarks.errors import InputError  # noqa: E402


def test_jitter_known_answer():
    # one face, two copies, one point at x = 0 and x = 2: mean 1, each copy 1 px away -> std 1 px
    preds = np.array([[[[0.0, 0.0]], [[2.0, 0.0]]]])
    assert jitter_per_face(preds, np.zeros((1, 2, 2)), np.array([10.0])) == pytest.approx([0.1])
    # the same movement explained entirely by the known shifts is no jitter
    assert jitter_per_face(preds, np.array([[[0.0, 0.0], [2.0, 0.0]]]), np.array([10.0])) == pytest.approx([0.0])


def test_jitter_averages_points_and_uses_2d_spread():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, (2, 1, 3, 2))
    # point 0 moves by (3, 4) between copies -> 2.5 px; points 1 and 2 still -> face mean 2.5 / 3
    moves = np.zeros((2, 2, 3, 2))
    moves[:, 1, 0] = [3.0, 4.0]
    preds = base + moves
    out = jitter_per_face(preds, np.zeros((2, 2, 2)), np.array([1.0, 5.0]))
    np.testing.assert_allclose(out, [2.5 / 3, 2.5 / 3 / 5])


def test_jitter_rejects_bad_shapes():
    with pytest.raises(InputError):
        jitter_per_face(np.zeros((1, 3, 68, 2)), np.zeros((1, 2, 2)), np.ones(1))
    with pytest.raises(InputError):
        jitter_per_face(np.zeros((1, 1, 68, 2)), np.zeros((1, 1, 2)), np.ones(1))


def test_shifted_copy_moves_the_image_by_the_shift():
    img = np.zeros((20, 30, 3), np.uint8)
    img[7, 5] = 200
    out = shifted_copy(img, (2.0, 3.0), 0.0, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert tuple(np.argwhere(out[..., 0] == 200)[0]) == (10, 7)
    noisy = shifted_copy(img, (0.0, 0.0), 2.0, np.random.default_rng(0))
    assert 1.0 < np.std(noisy.astype(float) - img) < 3.0


def test_markdown_table():
    text = markdown_table(["system", "NME"], [["ours", "3.10 %"], ["a|b", 4]])
    assert text.splitlines() == ["| system | NME |", "|:--|--:|", "| ours | 3.10 % |", "| a\\|b | 4 |"]
    assert markdown_table(["a", "b", "c"], [], "lcr").splitlines()[1] == "|:--|:-:|--:|"
    with pytest.raises(InputError):
        markdown_table(["a", "b"], [["only one"]])


def test_status_and_pareto_front():
    assert status(0.04, 0.045) == "met" and status(0.05, 0.045) == "missed" and status(None, 1.0) == "n/a"
    assert status(float("nan"), 1.0) == "n/a"
    pts = [(1.0, 5.0), (2.0, 4.0), (3.0, 4.5), (0.5, 9.0)]
    assert pareto_front(pts) == [3, 0, 1]


def test_only_own_files_are_overwritten(tmp_path):
    assert owned(tmp_path / "new.md")
    mine = tmp_path / "mine.md"
    mine.write_text(MARKER + " -->\n# report\n")
    assert owned(mine)
    theirs = tmp_path / "theirs.md"
    theirs.write_text("# my notes\n")
    assert not owned(theirs)
    assert not owned(tmp_path)


def test_deg_and_safe_ratio():
    assert deg(3.14159) == "3.14°" and deg(None) == "n/a" and deg(float("nan")) == "n/a"
    assert safe_ratio(1.0, 4.0) == 0.25
    assert safe_ratio(1.0, 0.0) is None and safe_ratio(None, 1.0) is None and safe_ratio(1.0, float("nan")) is None


def test_sequence_ratios_compare_the_same_frames():
    seq = {"raw": 0.02, "mediapipe": 0.04, "smoothed": 0.006, "mediapipe_late": 0.03}
    assert sequence_ratios(seq) == pytest.approx((0.5, 0.2))
    assert sequence_ratios({"raw": 0.02, "smoothed": 0.01}) == (None, None)
    assert sequence_ratios({}) == (None, None)


def _pose(mean: float) -> dict:
    mae = {"yaw": mean, "pitch": mean, "roll": mean, "mean": mean, "n_faces": 5}
    return {"mae": mae, "by_yaw": {b: dict(mae) for b in ("0-30", "30-60", "60-90")}}


def test_targets_hold_the_pose_and_sequence_rows():
    res = Results(mode="quick", data=Path("."), n_val=0, auto=("onnxruntime", "int8"))
    res.seq_jitter = {"raw": 0.02, "mediapipe": 0.04, "smoothed": 0.006, "mediapipe_late": 0.03}
    res.pose = {"faces": 5, "size": 160, "systems": {"ours": _pose(4.0), "mediapipe": _pose(6.5)}}

    def row(start):
        return next(r for r in targets(res) if r[0].startswith(start))

    assert all(len(r) == 4 for r in targets(res))
    assert row("head pose")[1:] == ["4.00° (MediaPipe + solvePnP: 6.50°)", "<= 5.00°", "met"]
    assert row("jitter on synthetic sequences, ours smoothed")[1:] == ["0.20x", "<= 0.50x", "met"]
    assert row("jitter on synthetic sequences, ours raw")[1] == "0.50x"
    res.pose["systems"]["ours"] = _pose(5.5)
    res.seq_jitter["smoothed"] = 0.02
    assert row("head pose")[3] == "missed"
    assert row("jitter on synthetic sequences, ours smoothed")[3] == "missed"


def test_synthetic_sections_say_why_they_are_missing():
    res = Results(mode="quick", data=Path("."), n_val=0, auto=("onnxruntime", "int8"))
    res.pose = res.seq_jitter = {"unavailable": "no moderngl"}
    assert "no moderngl" in _pose_section(res)[0] and "no moderngl" in _sequence_section(res)[0]
    for row in targets(res)[-3:]:
        assert row[1] == "n/a" and row[3] in ("n/a", "")


def test_pose_section_tables():
    res = Results(mode="quick", data=Path("."), n_val=0, auto=("onnxruntime", "int8"))
    res.pose = {"faces": 5, "size": 160, "systems": {"ours": _pose(4.0), "mediapipe": _pose(6.5)}}
    text = "\n".join(_pose_section(res))
    assert "| ours (onnxruntime int8) | 4.00° | 4.00° | 4.00° | **4.00°** | 5 |" in text
    assert "\\|yaw\\| 60-90° (5 faces)" in text and "6.50° (6.5 / 6.5 / 6.5)" in text


def test_thread_wake_times_each_call_after_its_busy_gap():
    """``benchmarks.thread_wake``: every timed call follows a gap of busy work of the asked
    length, and the gap itself is not counted in the call's time."""
    import time

    from benchmarks.thread_wake import busy, call_times

    t = time.perf_counter()
    busy(2000)
    assert time.perf_counter() - t >= 2e-3
    stamps = []
    times = call_times(lambda x: stamps.append(time.perf_counter()), None, gap_us=1000, calls=5, warmup=2)
    assert len(times) == 5 and all(0 <= s < 1e-3 for s in times)
    gaps = np.diff(stamps[2:])
    assert (gaps >= 1e-3).all()
