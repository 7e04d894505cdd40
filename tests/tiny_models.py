"""Small, seeded CNNs with the exported network's contract, for exporter and backend tests.

Each model takes `image` float32 (1, 3, S, S) and returns `features` float32 (1, F), post-ReLU,
built only from Conv2d (dense and depthwise), BatchNorm, ReLU, Add, Flatten and Linear. BatchNorm
gets non-trivial running statistics so that folding it is actually exercised.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SeparableBlock(nn.Module):
    """Depthwise 3x3 + pointwise 1x1, with a shortcut Add when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.dw = _conv_bn(cin, cin, 3, stride, groups=cin)
        self.pw = _conv_bn(cin, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return self.act(y + x if self.residual else y)


class FeatureNet(nn.Module):
    """Stem, separable blocks, Flatten, Linear, ReLU: (1, 3, S, S) -> (1, F)."""

    def __init__(self, size: int, widths: list[int], strides: list[int], features: int):
        super().__init__()
        blocks: list[nn.Module] = [_conv_bn(3, widths[0], 3, 2)]
        for cin, cout, s in zip(widths[:-1], widths[1:], strides):
            blocks.append(SeparableBlock(cin, cout, s))
        self.body = nn.Sequential(*blocks)
        side = size // 2
        for s in strides:
            side = (side + s - 1) // s
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * side * side, features), nn.ReLU())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(image))


def _randomise_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=generator) * 0.2 + 0.1)


def _build(size: int, widths: list[int], strides: list[int], features: int, seed: int) -> FeatureNet:
    torch.manual_seed(seed)
    model = FeatureNet(size, widths, strides, features)
    with torch.no_grad():
        _randomise_batchnorm(model, torch.Generator().manual_seed(seed))
    return model.eval()


def tiny_cnn(size: int = 32, features: int = 32, seed: int = 0) -> FeatureNet:
    """About 10k parameters; a few milliseconds per export-and-run in the tests."""
    return _build(size, [8, 16, 16, 32], [2, 1, 2], features, seed)


def mobilenet_like(size: int = 96, features: int = 256, seed: int = 0) -> FeatureNet:
    """About 300k parameters, MobileNet-style widths; for latency and file-size measurements."""
    return _build(size, [16, 32, 64, 64, 128, 128, 128], [2, 2, 1, 2, 1, 2], features, seed)


def image_batch(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Fixed smooth-plus-noise inputs (n, 3, size, size) float32, roughly unit scale like normalised images."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((n, 3, size, size), np.float32)
    for i in range(n):
        f = rng.uniform(1, 4, size=(3, 2))
        ph = rng.uniform(0, 2 * np.pi, size=(3, 1, 1))
        smooth = np.sin(2 * np.pi * (f[:, :1, None] * xx + f[:, 1:, None] * yy) + ph)
        out[i] = smooth + 0.3 * rng.standard_normal((3, size, size))
    return out.astype(np.float32)
