"""Landmark evaluation on a ytf68-format folder: each face is framed from the tight box of its
ground-truth points (the protocol the peer benchmarks use too)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .bundle import is_bundle_path
from .data import load_ytf68
from .data.split import train_val
from .errors import BundleError, DataError, InputError
from .geometry import tight_box
from .metrics import LandmarkReport, landmark_report, nme_per_face

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "export" / "checkpoints" / "teacher.pt"


def load_teacher_predictor(model: str | Path | None = None, layout: str = "ibug68", flip_test: bool = False):
    """A TeacherPredictor for a teacher checkpoint (default: the committed teacher), optionally
    with the test-time flip. Needs torch."""
    ckpt = Path(model) if model else DEFAULT_CHECKPOINT
    if not ckpt.is_file():
        raise BundleError(f"model checkpoint {ckpt} not found")
    try:
        from export.checkpoint import load_checkpoint
        from export.predict import TeacherPredictor
    except ImportError as e:
        raise BundleError(f"running a teacher checkpoint needs the training extra (pip install '.[train]'): {e}") from None
    net, face, _ = load_checkpoint(ckpt)
    return TeacherPredictor(net, face, layout=layout, flip_test=flip_test)


def predict_runtime(rt, samples) -> np.ndarray:
    """(F, N, 2) landmarks of a Runtime on samples, each framed from its ground-truth tight box."""
    preds = []
    for s in samples:
        faces = rt.detect(s.load_image(), boxes=[tight_box(s.landmarks)])
        if faces:
            preds.append(faces[0].landmarks)
        else:  # scored as a miss: the box centre for every point
            b = tight_box(s.landmarks)
            preds.append(np.tile([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], (len(s.landmarks), 1)))
    return np.asarray(preds, dtype=np.float32)


def evaluate_runtime(rt, samples) -> LandmarkReport:
    """NME report of a Runtime (its backend and precision) on samples with ground truth."""
    gt = np.stack([s.landmarks for s in samples])
    return landmark_report(nme_per_face(predict_runtime(rt, samples), gt, samples[0].layout), [s.name for s in samples])


def _checkpoint_predictor(ckpt: Path, flip_test: bool = False):
    """``predict(images, boxes) -> (F, 68, 2)`` for a teacher or student checkpoint (the flip
    test: teachers only). Needs torch."""
    try:
        import torch

        from export.distill import face_tensors, load_student, predict_landmarks
    except ImportError as e:
        raise BundleError(f"running a .pt checkpoint needs the training extra (pip install '.[train]'): {e}") from None
    ck = torch.load(ckpt, map_location="cpu", weights_only=False) if ckpt.is_file() else None
    if isinstance(ck, dict) and ck.get("kind") == "student":
        if flip_test:
            raise InputError("the flip test is a teacher's; got a student checkpoint")
        model, face, _ = load_student(ckpt)
        ft = face_tensors(face)
        return lambda images, boxes: predict_landmarks(model, ft, images, boxes)
    predictor = load_teacher_predictor(ckpt, flip_test=flip_test)
    return lambda images, boxes: predictor.predict(images, boxes).landmarks


def evaluate_folder(data: str | Path, model: str | Path | None = None, batch: int = 64, people: str = "all",
                    backend: str = "auto", precision: str = "auto", flip_test: bool = False) -> LandmarkReport:
    """NME report of a model on every face of a ytf68-format folder.

    Args:
        data: folder with ``images/`` and ``landmarks.csv``.
        model: ``None`` for the shipped bundle through the runtime (what users get), a bundle
            folder or zip, or a teacher / student checkpoint (``.pt``, needs torch).
        people: ``"all"``, or ``"val"`` / ``"train"`` for one side of the committed ytf68 split.
        backend, precision: the runtime's choice for bundles ("auto": the fastest measured).
        flip_test: a teacher checkpoint's landmarks averaged with its mirror image's
            (``TeacherPredictor``); InputError for bundles and students.
    """
    samples = load_ytf68(data)
    if people != "all":
        train, val = train_val(samples)
        samples = {"val": val, "train": train}[people]
        if not samples:
            raise DataError(f"no faces of the {people} people in {data}")
    if is_bundle_path(model):
        if flip_test:
            raise InputError("the flip test is a teacher's: pass a teacher checkpoint (.pt) as the model")
        from .runtime import Runtime

        rt = Runtime(model, backend=backend, precision=precision, layout=samples[0].layout, score_threshold=0.0)
        return evaluate_runtime(rt, samples)
    predict = _checkpoint_predictor(Path(model), flip_test)
    preds = []
    for i in range(0, len(samples), batch):
        chunk = samples[i:i + batch]
        preds.append(predict([s.load_image() for s in chunk], [tight_box(s.landmarks) for s in chunk]))
    gt = np.stack([s.landmarks for s in samples])
    return landmark_report(nme_per_face(np.concatenate(preds), gt, samples[0].layout), [s.name for s in samples])
