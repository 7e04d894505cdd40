"""ONNX Runtime backend: one InferenceSession on the CPU execution provider.

ORT sessions are thread-safe, so `run` needs no lock. Sequential execution (inter-op 1) and
`threads` intra-op threads: the graph is a chain, there is nothing to run in parallel between
operators.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BundleError
from .base import BackendBase, check_threads, model_file, unavailable


class OnnxRuntimeBackend(BackendBase):
    """ONNX (.onnx) models on ONNX Runtime's CPU execution provider."""

    name: ClassVar[str] = "onnxruntime"
    extra: ClassVar[str] = "onnx"
    suffix: ClassVar[str] = ".onnx"
    modules: ClassVar[tuple[str, ...]] = ("onnxruntime",)
    distributions: ClassVar[tuple[str, ...]] = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino")

    def __init__(self, model_path: Path, threads: int | None = None):
        self.path = model_file(model_path, self.suffix)
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise unavailable(self.name, self.extra, e) from e
        options = ort.SessionOptions()
        options.intra_op_num_threads = check_threads(threads) or 0
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BundleError(f"cannot load ONNX model {self.path}: {e}") from e
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        self._adopt_io(len(inputs), len(outputs), inputs[0].shape, outputs[0].shape)
        self._input = inputs[0].name

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: x})[0].astype(np.float32, copy=False)

    def close(self) -> None:
        self._session = None
