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
from .base import (
    check_batch,
    check_features_shape,
    check_image_shape,
    check_single_io,
    check_threads,
    distribution_installed,
    distribution_version,
    model_file,
    run_batched,
    unavailable,
)


class OnnxRuntimeBackend:
    """ONNX (.onnx) models on ONNX Runtime's CPU execution provider."""

    name: ClassVar[str] = "onnxruntime"
    extra: ClassVar[str] = "onnx"
    suffix: ClassVar[str] = ".onnx"

    @classmethod
    def available(cls) -> bool:
        return distribution_installed("onnxruntime")

    @classmethod
    def version(cls) -> str:
        return distribution_version("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino")

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
        check_single_io(len(inputs), len(outputs), self.path)
        self._input = inputs[0].name
        self._size = check_image_shape(tuple(inputs[0].shape), self.path)
        check_features_shape(tuple(outputs[0].shape), self.path)
        self._batch_one = inputs[0].shape[0] == 1

    @property
    def input_size(self) -> int:
        return self._size

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: x})[0].astype(np.float32, copy=False)

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_batched(self._run_one, check_batch(x, self._size), self._batch_one)

    def close(self) -> None:
        self._session = None
