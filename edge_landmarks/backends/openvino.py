"""OpenVINO backend: the IR (.xml + .bin) compiled for the CPU plugin.

Compiled on first use, for latency (PERFORMANCE_HINT LATENCY: one stream), with `threads`
inference threads and float32 inference precision: on CPUs with bf16 support the plugin
otherwise computes float layers in bf16 (about 0.4 % relative error), which would make an fp32
model disagree with its reference. int8 layers of an NNCF model stay int8. The compiled model is thread-safe but an
infer request is not, so each call borrows a request from a small pool. The request reads the
caller's array in place (a shared-memory tensor) rather than through ``infer({0: x})``, which
converts its argument in every call: 0.1 ms of a 0.65 ms call on a 2-core Xeon.

Face crops (``run_crops``, ``decoder``) go to models that take them as they are, uint8 NHWC
BGR: OpenVINO's ``PrePostProcessor`` puts the channel order, the conversion to float, the
normalisation and the layout change into the compiled graph, where they cost less than
converting in Python (``image.to_network_input``) before the call, the same features to the
bit (BGR, not BGRA: with a fourth channel to drop the plugin runs a scalar slice, 25 us).
``decoder`` also appends the float tail to the graph (``openvino_tail``).

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
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import BundleError, InputError
from ..paths import user_cache_dir
from .base import BackendBase, check_threads, model_file, run_batched, unavailable
from .openvino_tail import append_tail, unpacker


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
        self._ov, self._core, self._config = openvino, core, config
        try:
            self._network = core.read_model(str(self.path))
        except Exception as e:
            raise BundleError(f"cannot load OpenVINO model {self.path} (and its .bin): {e}") from e
        inputs, outputs = self._network.inputs, self._network.outputs
        shape = tuple(d.get_length() if d.is_static else None for d in inputs[0].get_partial_shape())
        self._adopt_io(len(inputs), len(outputs), shape, tuple(outputs[0].get_partial_shape()))
        self._compiled: dict = {}
        self._lock = threading.Lock()

    def _model(self, crops_spec: tuple | None) -> tuple:
        """(compiled model, request pool) for float inputs (None) or for crops normalised as
        ``crops_spec`` (color, mean, std), compiled on first use."""
        model = self._compiled.get(crops_spec)
        if model is None:
            with self._lock:
                model = self._compiled.get(crops_spec) or self._compile(crops_spec)
                self._compiled[crops_spec] = model
        return model

    def _compile(self, crops_spec: tuple | None, tail=None, point_sets=None) -> tuple:
        model = self._network.clone()  # the steps below edit the graph in place
        if crops_spec is not None:
            model = self._take_crops(model, *crops_spec)
        if tail is not None:
            model = append_tail(self._ov, model, tail, point_sets)
        cache = _cache_dir()
        try:
            try:
                return self._core.compile_model(model, "CPU", self._config | cache), queue.SimpleQueue()
            except Exception:
                if not cache:
                    raise
                return self._core.compile_model(model, "CPU", self._config), queue.SimpleQueue()
        except Exception as e:
            raise BundleError(f"cannot compile OpenVINO model {self.path}: {e}") from e

    def _take_crops(self, model, color: str, mean: float, std: float):
        """``model`` behind a PrePostProcessor taking uint8 NHWC BGR crops."""
        ov, pre = self._ov, self._ov.preprocess
        ppp = pre.PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(pre.ColorFormat.BGR)
        ppp.input().preprocess().convert_color(pre.ColorFormat.RGB if color == "rgb" else pre.ColorFormat.BGR) \
            .convert_element_type(ov.Type.f32).mean(255.0 * mean).scale(255.0 * std)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        return ppp.build()

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        return _infer(self._ov, *self._model(None), (x,))

    def run_crops(self, crops: list[np.ndarray], spec) -> np.ndarray:
        model = self._model((spec.color, spec.mean, spec.std))
        return run_batched(lambda b: _infer(self._ov, *model, (b,), self._batch_one), self._stack(crops), self._batch_one)

    def decoder(self, spec, tail, point_sets: list):
        model, unpack = self._compile((spec.color, spec.mean, spec.std), tail, point_sets), unpacker(point_sets)

        def decode(crops: list[np.ndarray], affines: list[np.ndarray]) -> list:
            if len(affines) != len(crops):
                raise InputError(f"expected one affine per crop, got {len(affines)} for {len(crops)} crops")
            if self._batch_one:  # each crop and affine copied straight into a request's tensors
                rows = [_infer(self._ov, *model, (self._check(c), a), True) for c, a in zip(crops, affines)]
                return unpack(rows[0] if len(rows) == 1 else np.concatenate(rows))
            return unpack(_infer(self._ov, *model, (self._stack(crops), np.asarray(affines, np.float32).reshape(-1, 2, 3))))

        return decode

    def _check(self, crop: np.ndarray) -> np.ndarray:
        """``crop`` unless it is not an (S, S, 3) uint8 array (InputError)."""
        if getattr(crop, "dtype", None) != np.uint8 or crop.shape != (self._size, self._size, 3):
            raise InputError(f"expected uint8 BGR crops of shape ({self._size}, {self._size}, 3), "
                             f"got {getattr(crop, 'dtype', type(crop).__name__)} {getattr(crop, 'shape', '')}")
        return crop

    def _stack(self, crops: list[np.ndarray]) -> np.ndarray:
        """(B, S, S, 3) uint8 of B crops; InputError unless each is (S, S, 3) uint8."""
        return self._check(crops[0])[None] if len(crops) == 1 else np.stack([self._check(c) for c in crops])

    def close(self) -> None:
        self._compiled = {}


def _cache_dir() -> dict:
    """OpenVINO's compiled-model cache in the user cache (``{"CACHE_DIR": path}``), or {} when it
    cannot be made: a cached model loads in about half the time of a compilation (0.13 against
    0.30 s for the crops-to-faces graph on a 2-core Xeon), most of a fresh process's start."""
    path = user_cache_dir() / "openvino"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return {}
    return {"CACHE_DIR": str(path)}


def _infer(ov, compiled, requests: queue.SimpleQueue, inputs: tuple, copy: bool = False) -> np.ndarray:
    """One synchronous inference of ``inputs`` on a request borrowed from ``requests`` (created on
    demand, ``_request``). ``copy`` (a model of static shapes): copy the inputs into the request's
    own arrays, which for a uint8 crop costs 1-2 us against 6-10 us for wrapping a new array each
    call; otherwise share them (cheaper for the float input, four times larger)."""
    try:
        request, buffers, output = requests.get_nowait()
    except queue.Empty:
        request, buffers, output = _request(ov, compiled)
    try:
        if copy and buffers is not None:
            for buffer, x in zip(buffers, inputs):
                buffer[...] = x
        else:
            for i, x in enumerate(inputs):
                request.set_input_tensor(i, ov.Tensor(x, shared_memory=True))
            buffers = None  # the request now reads the caller's arrays
        request.infer()
        return (output if output is not None else request.get_output_tensor(0).data).astype(np.float32, copy=True)
    finally:
        requests.put((request, buffers, output))


def _request(ov, compiled) -> tuple:
    """(infer request, its input arrays, its output array): with static shapes, arrays of ours
    bound as the request's tensors once, so that a call costs no tensor lookups; else (request,
    None, None)."""
    request = compiled.create_infer_request()
    if not all(p.get_partial_shape().is_static for p in (*compiled.inputs, *compiled.outputs)):
        return request, None, None
    arrays = [np.zeros(p.get_shape(), p.get_element_type().to_dtype()) for p in (*compiled.inputs, *compiled.outputs)]
    for i, a in enumerate(arrays[:-1]):
        request.set_input_tensor(i, ov.Tensor(a, shared_memory=True))
    request.set_output_tensor(0, ov.Tensor(arrays[-1], shared_memory=True))
    return request, arrays[:-1], arrays[-1]
