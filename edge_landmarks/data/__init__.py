"""Landmark data sets: one loader per annotation format, all yielding FaceSample."""
from .sample import FaceSample
from .ytf68 import load_ytf68, person_of
from .pts300w import load_300w
from .wflw import load_wflw
from .split import load_val_people, split_by_person

__all__ = [
    "FaceSample",
    "load_ytf68",
    "load_300w",
    "load_wflw",
    "person_of",
    "load_val_people",
    "split_by_person",
]
