"""Write a model bundle from a student checkpoint (``edge-landmarks export``): every requested
target and precision, the float tail, the canonical face, a calibration set for int8, and a
manifest with checksums and the accuracy of every model measured through the runtime.

The bundle is built in a temporary folder beside ``out`` and moved into place only when
complete, so a failed export never leaves a half-written bundle or touches an existing one.
"""
from __future__ import annotations

import json
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from edge_landmarks.bundle import FORMAT, FORMAT_VERSION, sha256_file
from edge_landmarks.canonical import CanonicalFace
from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.decode import HEAD_POSE_FIELDS, POSE_FIELDS, Refine, Tail
from edge_landmarks.errors import EdgeLandmarksError
from edge_landmarks.evaluate import evaluate_runtime

from .distill import load_student
from .exporters import TARGETS, export_target
from .models.student import ExportedStudent, Student, refine_stride
from .train import DEFAULT_DATA

LICENCE = ("Trained on ytf68 (YouTube Faces frames with 68-point labels) and the Surrey Face Model: "
           "research use only; not for commercial use.")
DEFAULT_CALIBRATION_SIZE = 32  # int8 NME vs set size: docs/DEPLOYED.md (32 was as good or better than 128, 512)


def tail_from_student(model: Student) -> Tail:
    """The float tail (head layer and shape bases) of a student, as the runtime decodes it."""
    cfg = model.cfg
    f = lambda t: t.detach().float().numpy().copy()  # noqa: E731
    return Tail(
        weight=f(model.head.weight).T.copy(), bias=f(model.head.bias), input_size=cfg.input.size,
        depth0=cfg.depth0, focal0=cfg.focal0, dense_mean=f(model.dense_mean), dense_basis=f(model.dense_basis),
        layout_mean={n: f(p) for n, p in model.layout_mean.items()},
        layout_basis={n: f(p) for n, p in model.layout_basis.items()},
        refine=refine_from_student(model),
    )


def refine_from_student(model: Student) -> Refine | None:
    """The local refinement's read-out network and map geometry, or None for a student without one."""
    if not model.cfg.refine_channels:
        return None
    linears = [m for m in model.readout.weights if isinstance(m, torch.nn.Linear)]
    cfg = model.cfg
    grid = -(-cfg.input.size // refine_stride(cfg))
    return Refine(channels=cfg.refine_channels, grid=grid, stride=refine_stride(cfg), scale=cfg.refine_scale,
                  weights=[l.weight.detach().float().numpy().T.copy() for l in linears],
                  biases=[l.bias.detach().float().numpy().copy() for l in linears])


def _file_entry(root: Path, p: Path) -> dict:
    return {"path": p.relative_to(root).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for d in ("torch", "onnx", "onnxruntime", "openvino", "nncf", "litert-torch", "ai-edge-quantizer", "ai-edge-litert", "edge-landmarks"):
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            pass
    return out


def _layouts(face: CanonicalFace) -> dict:
    return {n: {"num_points": int(len(ids)), "vertices": ids.astype(int).tolist(),
                "canonical_points_mm": np.round(face.vertices[ids].astype(float), 3).tolist(),
                "flip_permutation": face.flip_permutation(n).astype(int).tolist()}
            for n, ids in sorted(face.layouts.items())}


def write_manifest(root: Path, manifest: dict) -> None:
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))


def export_bundle(student: str | Path, out: str | Path, targets: list[str], precisions: list[str] | dict[str, list[str]],
                  calib: str | Path | None = None, calib_size: int = DEFAULT_CALIBRATION_SIZE,
                  data: str | Path = DEFAULT_DATA, force: bool = False, command: str = "", evaluate: bool = True,
                  make_zip: bool = False) -> Path:
    """Export ``student`` to a bundle folder ``out`` (and ``out.zip`` with ``make_zip``).

    ``precisions``: the precisions of every target, or per target (``{"onnx": ["fp32", "int8"],
    "tflite": ["fp16", "int8"]}``); a target's fp32 model is always built first, as the source of
    its other precisions, and left out of the bundle when not asked for.
    ``calib``: calibration source for int8 (a ytf68 folder, a folder of images or a video; default
    the training people of ``data``). ``evaluate``: measure NME / FR@10 of every model on the
    validation people of ``data`` through the runtime and record it in the manifest.
    """
    out = Path(out)
    if out.exists() and not force:
        raise EdgeLandmarksError(f"{out} exists; pass --force to replace it")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise EdgeLandmarksError(f"unknown export targets {unknown}; known: {sorted(TARGETS)}")
    per_target = {t: list(precisions[t] if isinstance(precisions, dict) else precisions) for t in targets}
    for t, precs in per_target.items():
        if not precs or any(p not in TARGETS[t].precisions for p in precs):
            raise EdgeLandmarksError(f"target {t}: precisions {precs} asked; it builds {list(TARGETS[t].precisions)}")
    model, face, ck = load_student(student)
    network = ExportedStudent(model.backbone).eval()
    spec = model.cfg.input
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        t0 = time.time()
        tail = tail_from_student(model)
        np.savez_compressed(tmp / "tail.npz", **tail.to_arrays())
        face.save(tmp / "canonical.npz")
        example = torch.zeros(1, 3, spec.size, spec.size).numpy()
        models, fp32 = [], {}
        for t in targets:
            fp32[t] = export_target(t, "fp32", network, example, None, tmp, stem="model")
        manifest = _manifest(tmp, model, tail, face, ck, command, [
            {"backend": TARGETS[t].backend, "target": t, "precision": "fp32", "files": [_file_entry(tmp, p) for p in fp32[t]]}
            for t in targets])
        write_manifest(tmp, manifest)
        calib_info = None
        if any("int8" in precs for precs in per_target.values()):
            cs = _calibration(calib, data, calib_size, spec, tmp, TARGETS[targets[0]].backend)
            calib_info = {"source": str(calib if calib is not None else data), "faces": len(cs.names),
                          "stratified_by": "head-turn bins (nose offset per inter-ocular distance)"}
        for t in targets:
            precs = per_target[t]
            if "fp32" in precs:
                models.append({"backend": TARGETS[t].backend, "target": t, "precision": "fp32",
                               "files": [_file_entry(tmp, p) for p in fp32[t]]})
            for prec in [p for p in precs if p != "fp32"]:
                files = export_target(t, prec, network, example, cs.inputs if prec == "int8" else None, tmp,
                                      stem="model", fp32_path=fp32[t][0])
                models.append({"backend": TARGETS[t].backend, "target": t, "precision": prec,
                               "files": [_file_entry(tmp, p) for p in files]})
            if "fp32" not in precs:
                for p in fp32[t]:
                    p.unlink()
        manifest["models"] = models
        manifest["calibration"] = calib_info
        manifest["export_seconds"] = round(time.time() - t0, 1)
        write_manifest(tmp, manifest)
        if evaluate:
            measure_accuracy(tmp, manifest, data)
        record_probe_deviation(tmp, manifest)
        write_manifest(tmp, manifest)
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if make_zip:
        shutil.make_archive(str(out), "zip", out.parent, out.name)
    return out


def _calibration(calib, data, size: int, spec, bundle_dir: Path, backend: str):
    """A CalibrationSet from a saved ``.npz`` (``python -m calibration``), a ytf68 folder (its
    training people), or an image folder / video located by the fp32 model of ``bundle_dir``."""
    from calibration import CalibrationSet, build_calibration_set, runtime_locator

    if calib is not None and str(calib).endswith(".npz"):
        with np.load(calib) as z:
            inputs = z["inputs"].astype(np.float32)
            if inputs.shape[1:] != (3, spec.size, spec.size):
                raise EdgeLandmarksError(f"{calib}: calibration inputs have shape {inputs.shape[1:]}, the model takes {(3, spec.size, spec.size)}")
            return CalibrationSet(inputs[:size], [str(n) for n in z["names"][:size]], z["yaw_bin"][:size])
    locate = None
    if calib is not None and not (Path(calib) / "landmarks.csv").is_file():
        from edge_landmarks import Runtime

        locate = runtime_locator(Runtime(bundle_dir, backend=backend, precision="fp32", use_cache=False))
    source = calib if calib is not None else data
    return build_calibration_set(source, size, spec.size, spec.enlarge, spec.color, spec.mean, spec.std, locate=locate)


def measure_accuracy(root: Path, manifest: dict, data: str | Path) -> None:
    """NME / FR@10 of every model in the bundle at ``root``, through the runtime, on the
    validation people (each face framed from its ground-truth tight box)."""
    from edge_landmarks import Runtime

    _, val = train_val(load_ytf68(data))
    for m in manifest["models"]:
        rt = Runtime(root, backend=m["backend"], precision=m["precision"], threads=1, score_threshold=0.0, use_cache=False)
        rep = evaluate_runtime(rt, val).to_dict()
        m["accuracy"] = {k: round(float(rep[k]), 5) for k in ("nme_mean", "nme_median", "fr10", "auc10")} | {"n_faces": rep["n_faces"]}
        print(f"{m['backend']:12s} {m['precision']:5s} NME {100 * rep['nme_mean']:.2f} % FR@10 {100 * rep['fr10']:.2f} %", flush=True)


def record_probe_deviation(root: Path, manifest: dict) -> None:
    """Each reduced-precision model's deviation from the bundle's first fp32 model on the
    runtime's seeded probe (``edge_landmarks.selection.probe_inputs``), as ``probe_rms`` in its
    accuracy: the runtime measures it again on each device and drops a model that deviates
    more there (``selection.reproduces``)."""
    from edge_landmarks.backends import get_backend
    from edge_landmarks.bundle import Bundle
    from edge_landmarks.selection import deviation, probe_inputs, probe_reference

    bundle = Bundle.load(root)
    runners = [(e, get_backend(e.backend)(e.path, 1)) for e in bundle.models]
    inputs = probe_inputs(bundle)
    reference = probe_reference(runners, inputs)
    if reference is None:
        return
    for m, (entry, runner) in zip(manifest["models"], runners):
        if entry.precision != "fp32":
            m.setdefault("accuracy", {})["probe_rms"] = round(deviation(runner, inputs, reference), 5)


def _manifest(root: Path, model: Student, tail: Tail, face: CanonicalFace, ck: dict, command: str, models: list) -> dict:
    cfg = model.cfg
    k, extra = cfg.num_coeffs, HEAD_POSE_FIELDS if cfg.pose_head else 0
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "licence": LICENCE,
        "model": {"name": "student", "parameters_exported": int(sum(p.numel() for p in model.backbone.parameters())),
                  "config": json.loads(json.dumps(cfg.__dict__, default=lambda o: o.__dict__ if hasattr(o, "__dict__") else list(o))),
                  "student_val": ck.get("val"), "epoch": ck.get("epoch")},
        "input": {"name": "image", "shape": [1, 3, cfg.input.size, cfg.input.size], "dtype": "float32", "layout": "NCHW",
                  "size": cfg.input.size, "enlarge": cfg.input.enlarge, "color": cfg.input.color,
                  "mean": cfg.input.mean, "std": cfg.input.std,
                  "framing": "square centred on the face box, side = enlarge x the box's longer side, "
                             "cv2.warpAffine bilinear with replicated border; value = (pixel / 255 - mean) / std"},
        "output": {"name": "features", "shape": [1, tail.output_size], "dtype": "float32",
                   "features": [0, cfg.features],
                   "head": {"coeffs": [0, k], "rotation_6d": [k, k + 6], "centre_xy": [k + 6, k + 8], "log_depth": k + 8,
                            "log_focal": k + 9, "score_logit": k + 10, "width": k + POSE_FIELDS + extra}
                   | ({"head_rotation_6d": [k + POSE_FIELDS, k + POSE_FIELDS + extra]} if extra else {})}
                  | ({"refine_map": {"values": [cfg.features, tail.output_size], "layout": "HWC",
                                     "shape": [tail.refine.grid, tail.refine.grid, tail.refine.channels],
                                     "stride": tail.refine.stride}} if tail.refine else {}),
        "float_tail": ("Kept in float32 numpy on every backend and precision (edge_landmarks/decode.py): the head "
                       "layer (features -> shape coefficients and pose), the linear shape bases, the rotation, the "
                       "perspective projection and the affine back to image pixels, and the local refinement's "
                       "read of its map. Quantizing this tail would cost accuracy for no speed (a few thousand "
                       "multiply-adds)."),
        "tail": "tail.npz",
        "canonical": "canonical.npz",
        "files": [_file_entry(root, root / "tail.npz"), _file_entry(root, root / "canonical.npz")],
        "layouts": _layouts(face),
        "models": models,
        "versions": _versions(),
    }
