"""Where the shared data sets live: ``$EDGE_LANDMARKS_SHARED``, else ``../shared`` beside the
project checkout, else ``../shared`` beside the current directory."""
from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    env = os.environ.get("EDGE_LANDMARKS_SHARED")
    if env:
        return Path(env) / "data"
    beside_repo = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return beside_repo if beside_repo.is_dir() else Path.cwd().parent / "shared" / "data"
