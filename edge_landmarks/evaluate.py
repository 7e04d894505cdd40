"""Landmark evaluation on a ytf68-format folder: each face is framed from the tight box of its
ground-truth points (the protocol the peer benchmarks use too)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import load_ytf68
from .data.split import train_val
from .errors import BundleError, DataError
from .geometry import tight_box
from .metrics import LandmarkReport, landmark_report, nme_per_face

# Until the runtime bundle exists (issue 5/6), the shipped model is the committed teacher.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "export" / "checkpoints" / "teacher.pt"


def load_teacher_predictor(model: str | Path | None = None, layout: str = "ibug68"):
    """A TeacherPredictor for a checkpoint (default: the shipped teacher). Needs torch."""
    ckpt = Path(model) if model else DEFAULT_CHECKPOINT
    if not ckpt.is_file():
        raise BundleError(f"model checkpoint {ckpt} not found")
    try:
        from export.checkpoint import load_checkpoint
        from export.predict import TeacherPredictor
    except ImportError as e:
        raise BundleError(f"running a teacher checkpoint needs the training extra (pip install '.[train]'): {e}") from None
    net, face, _ = load_checkpoint(ckpt)
    return TeacherPredictor(net, face, layout=layout)


def evaluate_folder(data: str | Path, model: str | Path | None = None, batch: int = 64, people: str = "all") -> LandmarkReport:
    """NME report of a model on every face of a ytf68-format folder.

    Args:
        data: folder with ``images/`` and ``landmarks.csv``.
        model: a teacher checkpoint; ``None`` evaluates the shipped default model.
        people: ``"all"``, or ``"val"`` / ``"train"`` for one side of the committed ytf68 split.
    """
    samples = load_ytf68(data)
    if people != "all":
        train, val = train_val(samples)
        samples = {"val": val, "train": train}[people]
        if not samples:
            raise DataError(f"no faces of the {people} people in {data}")
    layout = samples[0].layout
    predictor = load_teacher_predictor(model, layout)
    preds = []
    for i in range(0, len(samples), batch):
        chunk = samples[i:i + batch]
        preds.append(predictor.predict([s.load_image() for s in chunk], [tight_box(s.landmarks) for s in chunk]).landmarks)
    gt = np.stack([s.landmarks for s in samples])
    return landmark_report(nme_per_face(np.concatenate(preds), gt, layout), [s.name for s in samples])
