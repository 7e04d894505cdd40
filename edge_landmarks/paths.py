"""Where things live: the shared data sets (``shared_data_dir``) and the user cache
(``user_cache_dir``: backend choices, unpacked bundles, OpenVINO's compiled models)."""
from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """``$EDGE_LANDMARKS_SHARED/data``, else ``../shared/data`` beside the project checkout, else
    ``../shared/data`` beside the current directory."""
    env = os.environ.get("EDGE_LANDMARKS_SHARED")
    if env:
        return Path(env) / "data"
    beside_repo = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return beside_repo if beside_repo.is_dir() else Path.cwd().parent / "shared" / "data"


def user_cache_dir() -> Path:
    """``$EDGE_LANDMARKS_CACHE``, else ``$XDG_CACHE_HOME/edge-landmarks``, else ``~/.cache/edge-landmarks``."""
    if os.environ.get("EDGE_LANDMARKS_CACHE"):
        return Path(os.environ["EDGE_LANDMARKS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edge-landmarks"
