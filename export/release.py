"""Strip a training checkpoint to the shipped teacher: EMA weights in float16, config and
canonical face only (no optimizer state)."""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import CHECKPOINT_VERSION


def release_checkpoint(src: str | Path, dst: str | Path) -> Path:
    ck = torch.load(src, map_location="cpu", weights_only=False)
    weights = ck.get("ema") or ck["model"]
    slim = {
        "version": CHECKPOINT_VERSION,
        "config": ck["config"],
        "model": {k: (v.half() if v.is_floating_point() else v) for k, v in weights.items()},
        "canonical": ck["canonical"],
        "val": ck.get("val"),
        "epoch": ck.get("epoch"),
        "train_config": ck.get("train_config"),
    }
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, dst)
    return dst
