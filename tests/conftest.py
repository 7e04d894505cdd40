"""Shared pytest fixtures."""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _shared_subdir(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} not found (expected ../shared/data/{name} beside the project)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory):
    """The user cache (backend choices, unpacked bundles, OpenVINO's compiled models) in a
    temporary folder for the whole session, not in the home of whoever runs the tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGE_LANDMARKS_CACHE", str(tmp_path_factory.mktemp("user_cache")))
        yield


@pytest.fixture(scope="session")
def ytf68_dir() -> Path:
    return _shared_subdir("ytf68")


@pytest.fixture(scope="session")
def sfm_dir() -> Path:
    return _shared_subdir("sfm")


REPO = Path(__file__).resolve().parents[1]
TINY_INPUT = 32


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory) -> Path:
    """A randomly initialised, tiny student checkpoint on the real canonical face (no training)."""
    torch = pytest.importorskip("torch")
    from export.checkpoint import load_checkpoint
    from export.config import InputSpec, StudentConfig
    from export.distill import save_student
    from export.models.student import Student

    _, face, _ = load_checkpoint(REPO / "export" / "checkpoints" / "teacher.pt")
    cfg = StudentConfig(input=InputSpec(size=TINY_INPUT, enlarge=1.5), stages=((8, 1, 1, 1), (16, 1, 2, 2), (16, 1, 2, 2)),
                        reduce=8, features=32, num_coeffs=4)
    torch.manual_seed(0)
    ids = {n: torch.as_tensor(face.layout_vertices(n), dtype=torch.long) for n in face.layouts}
    model = Student(cfg, torch.as_tensor(face.vertices, dtype=torch.float32), ids)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        model.head.weight.normal_(0, 0.02, generator=g)
    path = tmp_path_factory.mktemp("student") / "tiny_student.pt"
    save_student(path, model.eval(), face)
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tiny_student, tmp_path_factory) -> Path:
    """The tiny student exported for every target whose tools are installed, fp32 and int8."""
    import numpy as np

    from export.bundle import export_bundle

    targets = [t for t, mod in (("onnx", "onnxruntime"), ("openvino", "nncf"), ("tflite", "ai_edge_quantizer"))
               if importlib.util.find_spec(mod) is not None]
    if not targets:
        pytest.skip("no exporter installed (pip install '.[export]')")
    root = tmp_path_factory.mktemp("bundle")
    calib = root / "calib.npz"
    rng = np.random.default_rng(0)
    np.savez(calib, inputs=rng.uniform(-1, 1, (16, 3, TINY_INPUT, TINY_INPUT)).astype(np.float32),
             names=np.array([f"r{i}" for i in range(16)]), yaw_bin=np.zeros(16, int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_bundle(tiny_student, root / "tiny", targets, ["fp32", "int8"], calib=calib, calib_size=16,
                             evaluate=False, command="tests/conftest.py tiny_bundle")
