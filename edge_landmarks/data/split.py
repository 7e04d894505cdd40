"""Deterministic person-disjoint train/validation split of ytf68.

The validation people are committed in ``ytf68_val_people.txt`` so every run, benchmark and
later session scores on the same faces. ``split_by_person`` regenerates that list.
"""
from __future__ import annotations

import hashlib
from importlib import resources

from .sample import FaceSample

VAL_PEOPLE_FILE = "ytf68_val_people.txt"


def split_by_person(people: list[str], val_fraction: float = 0.15, seed: str = "edge-landmarks") -> set[str]:
    """Pick about ``val_fraction`` of the people, deterministically (hash order, no RNG state)."""
    ordered = sorted(set(people), key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    return set(ordered[: round(val_fraction * len(ordered))])


def load_val_people() -> set[str]:
    """The committed list of ytf68 validation people."""
    text = resources.files(__package__).joinpath(VAL_PEOPLE_FILE).read_text()
    return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}


def train_val(samples: list[FaceSample], val_people: set[str] | None = None) -> tuple[list[FaceSample], list[FaceSample]]:
    """Split samples by their ``person`` into (train, validation)."""
    val_people = load_val_people() if val_people is None else val_people
    train = [s for s in samples if s.person not in val_people]
    val = [s for s in samples if s.person in val_people]
    return train, val
