"""Peer systems the benchmarks compare against, run on the face boxes of our protocol.

Their files live in a user cache, fetched by ``python benchmarks/setup_peers.py``; nothing of
them is committed. Import from the repository root (``python -m benchmarks.peers.accuracy``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Peer:
    """One peer: its key, where its class lives (imported on first use), and what it needs.

    The class takes no required arguments and gives ``landmarks68(image, box) -> (68, 2)``.
    """

    name: str
    module: str
    class_name: str
    needs: str

    @property
    def cls(self) -> type:
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), self.class_name)


PEERS: dict[str, Peer] = {
    p.name: p
    for p in (
        Peer("mediapipe-facemesh", "mediapipe_facemesh", "MediaPipeFaceMesh",
             "ai-edge-litert (or tflite-runtime); face_landmark.tflite from benchmarks/setup_peers.py"),
        Peer("dlib68", "dlib68", "Dlib68",
             "dlib-bin, face_recognition_models (benchmarks/setup_peers.py --install)"),
    )
}

__all__ = ["PEERS", "Peer"]
