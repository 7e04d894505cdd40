"""Inference backends: one registry (`BACKENDS`), looked up by name.

Each entry maps a backend name to "module:Class"; the module is imported on first use and the
class imports its runtime library only when it loads a model, so listing backends imports none
of onnxruntime, openvino or the TFLite interpreter. Adding a backend = one file implementing
`Backend` + one line here.
"""
from __future__ import annotations

import importlib

from ..errors import InputError
from .base import Backend
from .base import unavailable as _unavailable

BACKENDS: dict[str, str] = {
    "onnxruntime": "edge_landmarks.backends.onnxruntime:OnnxRuntimeBackend",
    "openvino": "edge_landmarks.backends.openvino:OpenVinoBackend",
    "tflite": "edge_landmarks.backends.tflite:TFLiteBackend",
}


def backend_class(name: str) -> type[Backend]:
    """The class registered as `name`, installed or not.

    Raises:
        InputError: `name` is not a registered backend.
    """
    if name not in BACKENDS:
        raise InputError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str) -> type[Backend]:
    """The class registered as `name`, checked to be installed.

    Raises:
        InputError: `name` is not a registered backend.
        BackendUnavailableError: its runtime library is not installed (the message names the pip extra).
    """
    cls = backend_class(name)
    if not cls.available():
        raise _unavailable(name, cls.extra)
    return cls


def available_backends() -> list[str]:
    """Names of the registered backends whose runtime library is installed, in registry order."""
    return [name for name in BACKENDS if backend_class(name).available()]


__all__ = ["BACKENDS", "Backend", "available_backends", "backend_class", "get_backend"]
