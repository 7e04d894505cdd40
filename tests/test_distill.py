"""Distillation smoke test on a few real faces: teacher targets, one epoch, checkpoints that
load back, and the float tail of the exported bundle decoding like the PyTorch student."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from export.config import DistillConfig, InputSpec, StudentConfig  # noqa: E402
from export.distill import distill, load_student, release_student  # noqa: E402


def test_one_epoch_of_distillation_writes_loadable_checkpoints(ytf68_dir, tmp_path):
    cfg = replace(DistillConfig(), epochs=1, batch_size=8, threads=1,
                  student=StudentConfig(input=InputSpec(size=48, enlarge=1.5), stages=((8, 1, 1, 1), (16, 1, 2, 2)),
                                        reduce=8, features=32, num_coeffs=4))
    summary = distill(cfg, tmp_path / "run", data=ytf68_dir, limit=16)
    assert summary["epoch"] == 1 and np.isfinite(summary["train"]["landmarks"])
    assert 0 < summary["val"]["nme_mean"] < 5
    assert (tmp_path / "run" / "history.jsonl").is_file() and list((tmp_path / "run").glob("teacher_targets_*.npz"))
    model, face, ck = load_student(tmp_path / "run" / "last.pt")
    assert model.cfg.input.size == 48 and "ibug68" in face.layouts
    slim = release_student(tmp_path / "run" / "last.pt", tmp_path / "student.pt")
    m2, _, _ = load_student(slim)
    x = torch.zeros(1, 3, 48, 48)
    assert torch.allclose(m2.backbone(x), model.backbone(x), atol=1e-2)
