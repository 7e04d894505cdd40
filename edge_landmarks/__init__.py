"""edge-landmarks: 3D facial landmarks, head pose and visibility on edge devices.

The runtime (this package) needs numpy and OpenCV only; it never imports torch.
"""
from __future__ import annotations

from .errors import BackendUnavailableError, BundleError, DataError, EdgeLandmarksError, InputError
from .results import Face, Pose
from .runtime import Runtime

__version__ = "0.1.0"

__all__ = ["Runtime", "Face", "Pose", "EdgeLandmarksError", "InputError", "DataError", "BundleError", "BackendUnavailableError", "__version__"]
