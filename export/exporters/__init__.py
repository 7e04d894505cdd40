"""Export targets: one table (`TARGETS`) and one entry point (`export_target`).

Each target is a row naming the runtime backend that loads it, its file suffix, the files
written beside the model, the precisions it supports and its exporter module. Every exporter
module has the same three functions:

- `export_fp32(model, example, path) -> Path`: torch module -> fp32 model file;
- `quantize_int8(fp32_path, calib, path) -> Path`: static int8 from the fp32 file;
- `convert_fp16(fp32_path, path) -> Path`: float16 weights from the fp32 file.

Adding a target means one exporter module and one row here. Exporter modules are imported only
when their target is used, so a missing tool (e.g. NNCF) breaks only its own target.
"""
from __future__ import annotations

import importlib
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")
MIN_CALIBRATION = 8
RECOMMENDED_CALIBRATION = 300


@dataclass(frozen=True)
class Target:
    """One export format.

    Attributes:
        name: target key, e.g. "onnx".
        backend: registry name of the runtime backend that loads it (edge_landmarks.backends).
        suffix: suffix of the model file the backend is given.
        sidecars: suffixes of further files written beside the model (same stem).
        precisions: precisions `export_target` can build.
        module: exporter module, imported on first use.
        requires: top-level modules the exporter and its backend need (for skips and checks).
    """

    name: str
    backend: str
    suffix: str
    sidecars: tuple[str, ...]
    precisions: tuple[str, ...]
    module: str
    requires: tuple[str, ...]

    def exporter(self) -> ModuleType:
        return importlib.import_module(self.module)

    def files(self, path: Path) -> list[Path]:
        """The model file and its sidecars."""
        return [path] + [path.with_suffix(s) for s in self.sidecars]

    def filename(self, stem: str, precision: str) -> str:
        return f"{stem}.{precision}{self.suffix}"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="onnx", backend="onnxruntime", suffix=".onnx", sidecars=(), precisions=PRECISIONS,
            module="export.exporters.onnx", requires=("torch", "onnx", "onnxscript", "onnxruntime"),
        ),
        Target(
            name="openvino", backend="openvino", suffix=".xml", sidecars=(".bin",), precisions=PRECISIONS,
            module="export.exporters.openvino", requires=("torch", "openvino", "nncf"),
        ),
        Target(
            name="tflite", backend="tflite", suffix=".tflite", sidecars=(), precisions=PRECISIONS,
            module="export.exporters.tflite", requires=("torch", "litert_torch", "ai_edge_quantizer", "ai_edge_litert"),
        ),
    )
}


def _check_calibration(calib: np.ndarray | None, example: np.ndarray) -> np.ndarray:
    if calib is None:
        raise ValueError("int8 export needs calibration images: calib of shape (N, C, H, W)")
    calib = np.asarray(calib, np.float32)
    if calib.ndim != 4 or calib.shape[1:] != example.shape[1:]:
        raise ValueError(f"calib must have shape (N, {', '.join(map(str, example.shape[1:]))}), got {calib.shape}")
    if len(calib) < MIN_CALIBRATION:
        raise ValueError(f"int8 calibration needs at least {MIN_CALIBRATION} images, got {len(calib)}")
    if len(calib) < RECOMMENDED_CALIBRATION:
        warnings.warn(
            f"{len(calib)} calibration images; the quantizers recommend about {RECOMMENDED_CALIBRATION}",
            stacklevel=3,
        )
    return calib


def export_target(
    target: str,
    precision: str,
    model,
    example: np.ndarray,
    calib: np.ndarray | None,
    out_dir: Path,
    *,
    stem: str = "model",
    fp32_path: Path | None = None,
) -> list[Path]:
    """Export `model` for one target at one precision into `out_dir`.

    Args:
        target: a key of `TARGETS`.
        precision: "fp32", "fp16" or "int8".
        model: torch module taking `image` (1, C, S, S) float32 and returning (1, F) float32.
        example: (1, C, S, S) float32 input used to trace the model.
        calib: (N, C, S, S) float32 calibration images, needed for int8 only.
        out_dir: folder for the files (created if missing); names are `{stem}.{precision}{suffix}`.
        stem: file name stem.
        fp32_path: an fp32 file of this target already exported from `model`; int8 and fp16
            are derived from it instead of exporting again.

    Returns:
        The written files, model file first (OpenVINO: .xml then .bin).

    Raises:
        ValueError: unknown target or precision, or unusable calibration images.
        NotImplementedError: a known precision that this target cannot build.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown export target {target!r}; known: {', '.join(TARGETS)}")
    row = TARGETS[target]
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if precision not in row.precisions:
        supported = ", ".join(row.precisions)
        raise NotImplementedError(f"target {target!r} cannot export {precision}; it supports {supported}")
    example = np.ascontiguousarray(example, np.float32)
    if example.ndim != 4 or example.shape[0] != 1:
        raise ValueError(f"example must have shape (1, C, S, S), got {example.shape}")
    if precision == "int8":
        calib = _check_calibration(calib, example)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = row.exporter()
    path = out_dir / row.filename(stem, precision)
    start = time.perf_counter()
    try:
        if precision == "fp32":
            exporter.export_fp32(model, example, path)
        elif fp32_path is not None:
            _derive(exporter, precision, Path(fp32_path), calib, path)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                base = exporter.export_fp32(model, example, Path(tmp) / row.filename(stem, "fp32"))
                _derive(exporter, precision, base, calib, path)
    except Exception:
        log.error("export %s %s to %s failed after %.1f s", target, precision, path, time.perf_counter() - start)
        for f in row.files(path):
            f.unlink(missing_ok=True)
        raise
    files = row.files(path)
    log.info(
        "exported %s %s in %.1f s: %s (%.0f kB)",
        target, precision, time.perf_counter() - start, path, sum(f.stat().st_size for f in files) / 1024,
    )
    return files


def _derive(exporter: ModuleType, precision: str, fp32_path: Path, calib: np.ndarray | None, path: Path) -> None:
    if precision == "int8":
        exporter.quantize_int8(fp32_path, calib, path)
    else:
        exporter.convert_fp16(fp32_path, path)


__all__ = ["TARGETS", "PRECISIONS", "Target", "export_target"]
