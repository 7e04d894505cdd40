"""One Euro filter (Casiez et al., CHI 2012) for landmark tracks in video.

Settings (``OneEuroSettings``): ``min_cutoff`` 1.0 Hz sets the smoothing of a still face (lower:
steadier, more lag); ``beta`` 0.3 lets the cutoff rise with speed so fast motion keeps little
lag; ``d_cutoff`` 1.0 Hz smooths the speed estimate. Speeds are measured in face-box sizes per
second, so the settings do not depend on the image resolution or the face size.
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

    def reset(self) -> None:
        self.x = self.dx = None

    def __call__(self, x: np.ndarray, dt: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.x is None or self.x.shape != x.shape or dt <= 0:
            self.x, self.dx = x.copy(), np.zeros_like(x)
            return x
        dx = (x - self.x) / dt / max(scale, 1e-9)
        a_d = _alpha(self.s.d_cutoff, dt)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        cutoff = self.s.min_cutoff + self.s.beta * np.abs(self.dx)
        a = 1.0 / (1.0 + 1.0 / (2 * math.pi * cutoff * dt))
        self.x = a * x + (1 - a) * self.x
        return self.x.copy()
