"""Teacher checkpoints: weights, config, canonical face and training state in one file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edge_landmarks.canonical import CanonicalFace
from edge_landmarks.errors import BundleError

from .config import TeacherConfig
from .models import Teacher

CHECKPOINT_VERSION = 1


def canonical_to_dict(face: CanonicalFace) -> dict:
    return {
        "vertices": face.vertices, "triangles": face.triangles, "normals": face.normals,
        "mirror": face.mirror, "layouts": dict(face.layouts),
    }


def save_checkpoint(path: str | Path, model: Teacher, face: CanonicalFace, **state) -> None:
    """Atomically write a checkpoint (a partial file never replaces a good one)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({
        "version": CHECKPOINT_VERSION,
        "config": {"model": model.cfg},
        "model": model.state_dict(),
        "canonical": canonical_to_dict(face),
        **state,
    }, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> tuple[Teacher, CanonicalFace, dict]:
    """Load (model in eval mode, canonical face, the whole checkpoint dict).

    Raises:
        BundleError: a missing or unreadable file, an unknown checkpoint version, or a student's."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"checkpoint {path} not found")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises several types for corrupt files
        raise BundleError(f"cannot read checkpoint {path}: {e}") from None
    if isinstance(ck, dict) and ck.get("kind") == "student":
        raise BundleError(f"{path} is a student checkpoint, not a teacher; export it (edge-landmarks export --student "
                          f"{path} --out DIR) and evaluate the bundle folder DIR")
    if not isinstance(ck, dict) or ck.get("version") != CHECKPOINT_VERSION:
        raise BundleError(f"{path}: unknown checkpoint version {ck.get('version') if isinstance(ck, dict) else None}; expected {CHECKPOINT_VERSION}")
    cfg = ck["config"]["model"]
    model = Teacher(cfg if isinstance(cfg, TeacherConfig) else TeacherConfig.from_dict(cfg))
    weights = ck.get("ema") or ck["model"]
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    model.eval()
    c = ck["canonical"]
    face = CanonicalFace(np.asarray(c["vertices"]), np.asarray(c["triangles"]), np.asarray(c["normals"]),
                         np.asarray(c["mirror"]), {k: np.asarray(v) for k, v in c["layouts"].items()})
    return model, face, ck
