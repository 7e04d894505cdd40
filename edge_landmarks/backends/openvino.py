"""OpenVINO backend: the IR (.xml + .bin) compiled for the CPU plugin.

Compiled for latency (PERFORMANCE_HINT LATENCY: one stream) with `threads` inference threads and
float32 inference precision: on CPUs with bf16 support the plugin otherwise computes float
layers in bf16 (about 0.4 % relative error), which would make an fp32 model disagree with its
reference. int8 layers of an NNCF model stay int8. The compiled model is thread-safe but an
infer request is not, so each call borrows a request from a small pool. The request reads the
caller's array in place (a shared-memory tensor) rather than through ``infer({0: x})``, which
converts its argument in every call: 0.1 ms of a 0.65 ms call on a 2-core Xeon.

On CPUs with AMX (Intel Sapphire Rapids and later) the plugin's oneDNN picks AMX kernels for
int8, which are slower for a network this small: 0.53 against 0.44 ms per call on a 2-core
Xeon with AMX, AVX-512 VNNI instead. So unless the caller has set ``ONEDNN_MAX_CPU_ISA``, it is
set to ``AVX512_CORE_VNNI`` before OpenVINO is first imported (``AMX_OFF``); CPUs without AMX are
unaffected (the cap is above their instruction set). Set ``ONEDNN_MAX_CPU_ISA=ALL`` to keep AMX.
The variable is read once per process by oneDNN, so it has no effect if OpenVINO was imported
before, and it also caps any other oneDNN user loaded later in the process (e.g. torch).
"""
from __future__ import annotations

import functools
import os
import queue
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BundleError
from .base import BackendBase, check_threads, model_file, unavailable


AMX_OFF = ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_VNNI")


@functools.cache
def _core():
    os.environ.setdefault(*AMX_OFF)
    import openvino as ov

    return ov.Core()


class OpenVinoBackend(BackendBase):
    """OpenVINO IR (.xml beside its .bin) on the CPU plugin."""

    name: ClassVar[str] = "openvino"
    extra: ClassVar[str] = "openvino"
    suffix: ClassVar[str] = ".xml"
    modules: ClassVar[tuple[str, ...]] = ("openvino",)
    distributions: ClassVar[tuple[str, ...]] = ("openvino",)

    def __init__(self, model_path: Path, threads: int | None = None):
        self.path = model_file(model_path, self.suffix)
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if check_threads(threads) is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            core = _core()
            import openvino
        except ImportError as e:
            raise unavailable(self.name, self.extra, e) from e
        self._ov = openvino
        try:
            self._compiled = core.compile_model(core.read_model(str(self.path)), "CPU", config)
        except Exception as e:
            raise BundleError(f"cannot load OpenVINO model {self.path} (and its .bin): {e}") from e
        inputs, outputs = self._compiled.inputs, self._compiled.outputs
        shape = tuple(d.get_length() if d.is_static else None for d in inputs[0].get_partial_shape())
        self._adopt_io(len(inputs), len(outputs), shape, tuple(outputs[0].get_partial_shape()))
        self._requests: queue.SimpleQueue = queue.SimpleQueue()

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        try:
            request = self._requests.get_nowait()
        except queue.Empty:
            request = self._compiled.create_infer_request()
        try:
            request.set_input_tensor(self._ov.Tensor(x, shared_memory=True))
            request.infer()
            return request.get_output_tensor(0).data.astype(np.float32, copy=True)
        finally:
            self._requests.put(request)

    def close(self) -> None:
        self._requests = queue.SimpleQueue()
        self._compiled = None
