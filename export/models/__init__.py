"""Model registry: ``create_model(name, **kwargs)`` over an explicit table."""
from __future__ import annotations

from ..config import TeacherConfig
from .teacher import Teacher

MODELS = {"teacher": (Teacher, TeacherConfig)}


def create_model(name: str, **kwargs):
    """Build a registered model; unknown names or config keys raise ValueError."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    cls, cfg_cls = MODELS[name]
    return cls(cfg_cls.from_dict(kwargs))


__all__ = ["create_model", "Teacher", "MODELS"]
