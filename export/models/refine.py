"""Local refinement of the query head: features sampled around each projected landmark move its
canonical 3D point (a cascade step on top of the paper's global head)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import mlp


class LocalRefiner(nn.Module):
    """(feature maps by backbone stage, landmarks in crop pixels (B, N, 2), descriptor (B, D),
    encoded queries (B, N, E)) -> canonical offsets (B, N, 3), mm.

    The global head sees the face through a 4 x 4 feature map, so it places points from the
    face's overall shape; this step reads a ``patch`` x ``patch`` grid of finer feature maps
    (``spacing`` crop pixels apart) around where each point landed and corrects its canonical 3D
    position, so the output stays a 3D point projected by the same camera, for any query. The
    sampling positions are not differentiated (the coarse points are where to look, not what to
    learn here). The last layer starts at zero: a warm-started teacher is the same function."""

    def __init__(self, taps: dict[int, int], descriptor: int, encoding: int, crop_size: int,
                 patch: int = 3, spacing: float = 4.0, hidden: int = 256, offset_scale: float = 5.0):
        """``taps``: backbone stage (-1: the stem) -> channels, the maps this step reads."""
        super().__init__()
        self.taps = tuple(taps)
        r = (torch.arange(patch, dtype=torch.float32) - (patch - 1) / 2) * spacing
        gy, gx = torch.meshgrid(r, r, indexing="ij")
        self.register_buffer("grid", torch.stack([gx, gy], -1).reshape(-1, 2), persistent=False)
        self.crop_size = crop_size
        self.from_patch = nn.Linear(sum(taps.values()) * patch * patch, hidden)
        self.from_image = nn.Linear(descriptor, hidden, bias=False)
        self.from_query = nn.Linear(encoding, hidden, bias=False)
        self.net = mlp([hidden, hidden, 3])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.offset_scale = offset_scale

    def sample(self, maps: list[torch.Tensor], points: torch.Tensor) -> torch.Tensor:
        """Features of the given maps on the patch around each point: (B, N, P * sum(C)), patch
        position by patch position, each with the maps' channels in order."""
        b, n, _ = points.shape
        where = points.detach()[:, :, None, :] + self.grid
        where = (2 * where + 1) / self.crop_size - 1
        feats = [F.grid_sample(m, where, mode="bilinear", padding_mode="zeros", align_corners=False) for m in maps]
        return torch.cat(feats, 1).permute(0, 2, 3, 1).reshape(b, n, -1)

    def forward(self, maps: dict[int, torch.Tensor], points: torch.Tensor, descriptor: torch.Tensor,
                query_encoding: torch.Tensor) -> torch.Tensor:
        h = self.from_patch(self.sample([maps[t] for t in self.taps], points))
        h = h + self.from_image(descriptor)[:, None] + self.from_query(query_encoding)
        return self.offset_scale * self.net(torch.relu(h))
