"""The `Backend` protocol every inference backend implements, and the checks they share.

A backend loads one model file with a single input, an image batch (B, 3, S, S) float32 (NCHW,
RGB, already normalised), and a single output (B, F) float32. The runtime hands it uint8 face
crops and takes decoded faces back (``decoder``): by default the crops are converted in one
OpenCV pass (``image.to_network_input``) and the features decoded by the numpy tail
(``decode.Tail``); a backend whose library can do either inside the compiled graph does so
there. It imports its runtime library only when instantiated, never at module import, so
listing backends stays cheap and torch-free.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Callable, ClassVar, Protocol, runtime_checkable

import numpy as np

from ..errors import BackendUnavailableError, BundleError, InputError
from ..image import to_network_input


@runtime_checkable
class Backend(Protocol):
    """One inference runtime behind a common numpy interface.

    `run` may be called from several threads on one instance.
    """

    name: ClassVar[str]
    """Registry name, e.g. "onnxruntime"."""
    extra: ClassVar[str]
    """The pip extra that installs the runtime: `pip install 'edge-landmarks[<extra>]'`."""
    suffix: ClassVar[str]
    """Suffix of the model files it loads, e.g. ".onnx"."""

    @classmethod
    def available(cls) -> bool:
        """Whether the runtime library is installed (checked without importing it)."""
        ...

    @classmethod
    def version(cls) -> str:
        """Version of the installed runtime library."""
        ...

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        """Load `model_path`; `threads` = intra-op threads (None: the runtime's default).

        Raises:
            BackendUnavailableError: the runtime library is not installed.
            BundleError: the file is missing, corrupt or not a (B|1, 3, S, S) -> (B|1, F) model.
        """
        ...

    @property
    def input_size(self) -> int:
        """S, the side of the square input image."""
        ...

    def run(self, x: np.ndarray) -> np.ndarray:
        """Features (B, F) float32 of images `x` (B, 3, S, S) float32."""
        ...

    def run_crops(self, crops: list[np.ndarray], spec) -> np.ndarray:
        """Features (B, F) float32 of B uint8 BGR crops (S, S, 3) (``image.face_crop``),
        normalised as ``spec`` (``bundle.InputSpec``: color, mean, std) says: the features of
        ``run(image.to_network_input(crops, ...))``."""
        ...

    def decoder(self, spec, tail, point_sets: list) -> Callable[[list[np.ndarray], list[np.ndarray]], list]:
        """A function of B crops (as ``run_crops`` takes them) and the B affines they were cut
        with (2x3, image -> crop) -> B ``decode.FaceDecoding`` in image pixels, with the points
        of each set of ``point_sets`` (``decode.PointSet``), decoded with ``tail``
        (``decode.Tail``): ``tail.decode_many(run_crops(crops, spec), point_sets)`` face by face
        (``Decoded.faces``), or the same maths inside the compiled graph. Safe to call from
        several threads."""
        ...

    def close(self) -> None:
        """Release the runtime's session; the instance is unusable afterwards."""
        ...


class BackendBase:
    """What the three backends share: ``available``/``version`` from the modules and distributions
    they name, the model I/O checks, and batching. A subclass sets ``modules`` (import names,
    any one suffices) and ``distributions`` (pip names, for the version), loads its model, calls
    ``_adopt_io`` and implements ``_run_one`` on a (B|1, 3, S, S) float32 array."""

    modules: ClassVar[tuple[str, ...]]
    distributions: ClassVar[tuple[str, ...]]

    @classmethod
    def available(cls) -> bool:
        return distribution_installed(*cls.modules)

    @classmethod
    def version(cls) -> str:
        return distribution_version(*cls.distributions)

    def _adopt_io(self, n_inputs: int, n_outputs: int, input_shape: tuple, output_shape: tuple) -> None:
        """BundleError naming the model unless it is one (B|1, 3, S, S) input -> one (B|1, F) output."""
        check_single_io(n_inputs, n_outputs, self.path)
        self._size = check_image_shape(tuple(input_shape), self.path)
        check_features_shape(tuple(output_shape), self.path)
        self._batch_one = input_shape[0] == 1

    @property
    def input_size(self) -> int:
        return self._size

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_batched(self._run_one, check_batch(x, self._size), self._batch_one)

    def run_crops(self, crops: list[np.ndarray], spec) -> np.ndarray:
        return self.run(to_network_input(crops, spec.color, spec.mean, spec.std))

    def decoder(self, spec, tail, point_sets: list) -> Callable[[list[np.ndarray], list[np.ndarray]], list]:
        def decode(crops: list[np.ndarray], affines: list[np.ndarray]) -> list:
            first, *more = tail.decode_many(self.run_crops(crops, spec), point_sets)
            return first.faces(affines, spec.size, *more)

        return decode


def distribution_installed(*modules: str) -> bool:
    """Whether any of the top-level `modules` can be imported (without importing it)."""
    return any(importlib.util.find_spec(m) is not None for m in modules)


def distribution_version(*distributions: str) -> str:
    """Version of the first installed distribution among `distributions`, or "" if none is."""
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return ""


def unavailable(name: str, extra: str, cause: BaseException | None = None) -> BackendUnavailableError:
    """The error for a backend whose library is missing (or fails to import)."""
    why = f" ({cause})" if cause is not None else ""
    return BackendUnavailableError(f"backend {name!r} is not installed: pip install 'edge-landmarks[{extra}]'{why}")


def model_file(path: Path, suffix: str) -> Path:
    """`path` as a Path, checked to be an existing file with the expected suffix."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model file {path} does not exist")
    if path.suffix != suffix:
        raise BundleError(f"model file {path} should have the suffix {suffix}")
    return path


def check_single_io(n_inputs: int, n_outputs: int, path: Path) -> None:
    """BundleError naming `path` unless the model has one input and one output."""
    if n_inputs != 1 or n_outputs != 1:
        raise BundleError(f"model {path} has {n_inputs} inputs and {n_outputs} outputs, expected one of each")


def check_image_shape(shape: tuple, path: Path) -> int:
    """S of a model input shape (1 or B, 3, S, S); BundleError naming `path` otherwise."""
    if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or not isinstance(shape[2], int):
        raise BundleError(f"model {path} has input shape {tuple(shape)}, expected (B, 3, S, S) with a fixed S")
    return int(shape[2])


def check_batch(x: np.ndarray, size: int) -> np.ndarray:
    """`x` as a C-contiguous float32 (B, 3, size, size) array (other floats are cast); InputError otherwise."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[1:] != (3, size, size) or x.shape[0] < 1:
        raise InputError(f"expected images of shape (B, 3, {size}, {size}), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"expected normalised float32 images, got {x.dtype}")
    return np.ascontiguousarray(x, np.float32)


def check_features_shape(shape: tuple, path: Path) -> None:
    """BundleError naming `path` unless the model output is (B, F)."""
    if len(shape) != 2:
        raise BundleError(f"model {path} has output shape {tuple(shape)}, expected (B, F)")


def run_batched(run_one, x: np.ndarray, fixed_batch_one: bool) -> np.ndarray:
    """`run_one(x)` on the whole batch, or image by image when the model's batch is fixed to 1."""
    if fixed_batch_one and len(x) > 1:
        return np.concatenate([run_one(x[i : i + 1]) for i in range(len(x))])
    return run_one(x)


def check_threads(threads: int | None) -> int | None:
    """`threads` if None or a positive int; InputError otherwise."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a positive integer or None, got {threads!r}")
    return threads
