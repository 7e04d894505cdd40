"""Spatial transformer: predicts a similarity region of interest in the loosely framed input and
resamples a normalised face crop from it. Learned jointly with the landmarks, without box labels."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import conv_bn_act


class SpatialTransformer(nn.Module):
    """Localiser CNN on a downscaled copy of the input -> similarity (scale, angle, shift).

    ``theta`` (B, 2, 3) maps normalised crop coordinates to normalised input coordinates
    (``F.affine_grid`` convention, align_corners=False).
    """

    def __init__(self, crop_size: int, init_scale: float = 0.8, loc_size: int = 64, width: int = 16):
        super().__init__()
        self.crop_size = crop_size
        self.loc_size = loc_size
        w = width
        self.features = nn.Sequential(
            conv_bn_act(3, w, 3, 2),          # 32
            conv_bn_act(w, 2 * w, 3, 2),      # 16
            conv_bn_act(2 * w, 4 * w, 3, 2),  # 8
            conv_bn_act(4 * w, 8 * w, 3, 2),  # 4
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(8 * w * 16, 64), nn.ReLU(inplace=True), nn.Linear(64, 4))
        nn.init.zeros_(self.fc[-1].weight)
        with torch.no_grad():
            self.fc[-1].bias.copy_(torch.tensor([math.log(init_scale), 0.0, 0.0, 0.0]))

    def region(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) input -> (B, 4): log scale, angle (rad), shift x, shift y (normalised)."""
        small = F.interpolate(image, size=(self.loc_size, self.loc_size), mode="bilinear", align_corners=False)
        return self.fc(self.features(small))

    @staticmethod
    def theta(region: torch.Tensor) -> torch.Tensor:
        s = region[:, 0].exp()
        a = region[:, 1]
        c, si = s * torch.cos(a), s * torch.sin(a)
        row0 = torch.stack([c, -si, region[:, 2]], dim=-1)
        row1 = torch.stack([si, c, region[:, 3]], dim=-1)
        return torch.stack([row0, row1], dim=1)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (crop (B, 3, C, C), theta (B, 2, 3))."""
        theta = self.theta(self.region(image))
        grid = F.affine_grid(theta, [image.shape[0], 3, self.crop_size, self.crop_size], align_corners=False)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False), theta


def crop_to_input_pixels(points: torch.Tensor, theta: torch.Tensor, crop_size: int, input_size: int) -> torch.Tensor:
    """Map (B, N, 2) crop pixels to input pixels through theta (pixel centres at integers)."""
    n = (2 * points + 1) / crop_size - 1
    m = n @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]
    return ((m + 1) * input_size - 1) / 2


def input_to_crop_pixels(points: torch.Tensor, theta: torch.Tensor, crop_size: int, input_size: int) -> torch.Tensor:
    """Inverse of crop_to_input_pixels."""
    m = (2 * points + 1) / input_size - 1
    a = theta[:, :, :2]
    n = torch.linalg.solve(a, (m - theta[:, None, :, 2]).transpose(1, 2)).transpose(1, 2)
    return ((n + 1) * crop_size - 1) / 2


def region_turn(theta: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotation about the optical axis from the crop's camera axes to the input's: the
    in-plane angle of the region ``theta`` (B, 2, 3), its scale removed."""
    a = theta[:, :, :2]
    scale = torch.sqrt(torch.abs(torch.linalg.det(a))).clamp_min(1e-6)
    turn = torch.zeros(theta.shape[0], 3, 3, dtype=theta.dtype, device=theta.device)
    turn[:, :2, :2] = a / scale[:, None, None]
    turn[:, 2, 2] = 1.0
    return turn
