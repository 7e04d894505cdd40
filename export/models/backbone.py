"""Backbone on the normalised crop: an image descriptor plus head pose and camera intrinsics."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .layers import BasicBlock, conv_bn_act, mlp


class PoseBackbone(nn.Module):
    """ResNet-style CNN -> descriptor (B, D); pose head -> rotation 6D, image-plane centre,
    log depth and log focal (all relative to priors: the crop centre, ``depth0`` mm and
    ``focal0`` crop pixels)."""

    def __init__(self, crop_size: int, widths: tuple[int, ...] = (32, 64, 128, 256), blocks: tuple[int, ...] = (1, 1, 1, 1), descriptor: int = 256):
        super().__init__()
        w0 = widths[0]
        layers: list[nn.Module] = [conv_bn_act(3, w0 // 2, 3, 2), conv_bn_act(w0 // 2, w0, 3, 1)]
        cin = w0
        for w, n in zip(widths, blocks):
            for k in range(n):
                layers.append(BasicBlock(cin, w, 2 if k == 0 else 1))
                cin = w
        self.features = nn.Sequential(*layers)
        fs = math.ceil(crop_size / 2 ** (len(widths) + 1))
        self.reduce = conv_bn_act(cin, 32, 1)
        self.descriptor = mlp([32 * fs * fs, 2 * descriptor, descriptor], last_act=True)
        self.pose = nn.Linear(descriptor, 10)
        nn.init.zeros_(self.pose.weight)
        with torch.no_grad():
            self.pose.bias.copy_(torch.tensor([1.0, 0, 0, 0, 1.0, 0, 0, 0, 0, 0]))
        self.out_dim = descriptor

    def forward(self, crop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (descriptor (B, D), raw pose (B, 10): 6D rotation, centre xy, log depth, log focal)."""
        d = self.descriptor(self.reduce(self.features(crop)).flatten(1))
        return d, self.pose(d)
