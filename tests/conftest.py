"""Shared pytest fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _shared_subdir(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} not found (expected ../shared/data/{name} beside the project)")
    return path


@pytest.fixture(scope="session")
def ytf68_dir() -> Path:
    return _shared_subdir("ytf68")


@pytest.fixture(scope="session")
def sfm_dir() -> Path:
    return _shared_subdir("sfm")
