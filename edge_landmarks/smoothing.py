"""One Euro filter (Casiez et al., CHI 2012) for landmark tracks in video.

Settings (``OneEuroSettings``): ``min_cutoff`` 1.0 Hz sets the smoothing of a still face (lower:
steadier, more lag); ``beta`` 0.3 lets the cutoff rise with speed so fast motion keeps little
lag; ``d_cutoff`` 1.0 Hz smooths the speed estimate. Speeds are measured in face-box sizes per
second, so the settings do not depend on the image resolution or the face size. Until its time
constant is reached the filter weighs every sample seen so far equally (the running mean), so
a first, unsmoothed sample does not linger. The tracker carries the state along the face's
optical flow before each update (``move``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroSettings:
    min_cutoff: float = 1.0
    beta: float = 0.3
    d_cutoff: float = 1.0


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array signal sample by sample; ``scale`` divides values before the speed
    adaptation (e.g. the face size in pixels)."""

    def __init__(self, settings: OneEuroSettings = OneEuroSettings()):
        self.s = settings
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.n = 0

    def reset(self) -> None:
        self.x = self.dx = None
        self.n = 0

    def move(self, fn) -> None:
        """Carry the filtered value along known motion, ``x <- fn(x)`` (e.g. the face's motion
        between frames), so the filter smooths what the motion does not explain and does not
        lag behind it."""
        if self.x is not None:
            self.x = np.asarray(fn(self.x), dtype=np.float64).reshape(self.x.shape)

    def __call__(self, x: np.ndarray, dt: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.x is None or self.x.shape != x.shape or dt <= 0:
            self.x, self.dx, self.n = x.copy(), np.zeros_like(x), 1
            return x
        self.n += 1
        dx = (x - self.x) / dt / max(scale, 1e-9)
        a_d = _alpha(self.s.d_cutoff, dt)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.s.min_cutoff + self.s.beta * np.abs(self.dx)
        a = np.maximum(1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt)), 1.0 / self.n)
        self.x = a * x + (1 - a) * self.x
        return self.x.copy()
