"""Calibration sets for int8 export: face inputs prepared exactly as the runtime prepares them
(``edge_landmarks.image.face_crop`` + ``to_network_input``), drawn deterministically and
stratified across head poses, from a folder of images, a video file, or the project's data."""
from __future__ import annotations

from .sets import CalibrationSet, build_calibration_set, yaw_proxy
from .sources import iter_faces, runtime_locator

__all__ = ["CalibrationSet", "build_calibration_set", "iter_faces", "runtime_locator", "yaw_proxy"]
