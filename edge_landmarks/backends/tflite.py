"""TFLite (LiteRT) backend: one interpreter with its default XNNPACK delegate.

The interpreter comes from `ai_edge_litert`, else `tflite_runtime`, else `tensorflow.lite`. It is
not thread-safe, so `run` holds a lock. Models with int8 / uint8 input or output (full-integer
exports) are fed and read through the tensors' own scale and zero point; our exporter keeps
float32 I/O, where this is a no-op.
"""
from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BundleError
from .base import BackendBase, check_threads, model_file, unavailable

_INTERPRETERS = (
    ("ai_edge_litert.interpreter", "Interpreter"),
    ("tflite_runtime.interpreter", "Interpreter"),
    ("tensorflow", "lite.Interpreter"),
)


def _interpreter_class():
    errors = []
    for module, attribute in _INTERPRETERS:
        try:
            found = importlib.import_module(module)
        except ImportError as e:
            errors.append(str(e))
            continue
        for part in attribute.split("."):
            found = getattr(found, part)
        return found
    raise ImportError("; ".join(errors))


def _quantization(detail: dict) -> tuple[float, int] | None:
    """(scale, zero point) of an integer tensor, None for a float one."""
    if np.issubdtype(detail["dtype"], np.floating):
        return None
    scale, zero = detail["quantization"]
    if scale == 0:
        raise BundleError(f"tensor {detail['name']} is {np.dtype(detail['dtype'])} without quantization parameters")
    return float(scale), int(zero)


class TFLiteBackend(BackendBase):
    """TFLite (.tflite) models on the LiteRT interpreter (XNNPACK on CPU)."""

    name: ClassVar[str] = "tflite"
    extra: ClassVar[str] = "tflite"
    suffix: ClassVar[str] = ".tflite"
    modules: ClassVar[tuple[str, ...]] = ("ai_edge_litert", "tflite_runtime", "tensorflow")
    distributions: ClassVar[tuple[str, ...]] = ("ai-edge-litert", "tflite-runtime", "tensorflow", "tensorflow-cpu")

    def __init__(self, model_path: Path, threads: int | None = None):
        self.path = model_file(model_path, self.suffix)
        threads = check_threads(threads)
        try:
            interpreter = _interpreter_class()
        except ImportError as e:
            raise unavailable(self.name, self.extra, e) from e
        try:
            self._interpreter = interpreter(model_path=str(self.path), num_threads=threads)
            self._interpreter.allocate_tensors()
        except Exception as e:
            raise BundleError(f"cannot load TFLite model {self.path}: {e}") from e
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        self._adopt_io(len(inputs), len(outputs), tuple(int(d) for d in inputs[0]["shape"]), tuple(outputs[0]["shape"]))
        self._in, self._out = inputs[0], outputs[0]
        self._in_q, self._out_q = _quantization(self._in), _quantization(self._out)
        self._lock = threading.Lock()

    def _to_input(self, x: np.ndarray) -> np.ndarray:
        if self._in_q is None:
            return x
        scale, zero = self._in_q
        info = np.iinfo(self._in["dtype"])
        return np.clip(np.rint(x / scale) + zero, info.min, info.max).astype(self._in["dtype"])

    def _from_output(self, y: np.ndarray) -> np.ndarray:
        if self._out_q is None:
            return y.astype(np.float32, copy=False)
        scale, zero = self._out_q
        return (y.astype(np.float32) - zero) * np.float32(scale)

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        x = self._to_input(x)
        with self._lock:
            self._interpreter.set_tensor(self._in["index"], x)
            self._interpreter.invoke()
            y = self._interpreter.get_tensor(self._out["index"])
        return self._from_output(y)

    def close(self) -> None:
        self._interpreter = None
