"""Continuous landmark queries: positional encoding of 3D canonical points and the
per-dataset query deformer that adapts each data set's landmark definition."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .layers import mlp


class PositionalEncoding(nn.Module):
    """NeRF-style Fourier features of canonical points (mm, scaled by ``1 / extent``)."""

    def __init__(self, num_freqs: int = 6, extent: float = 100.0):
        super().__init__()
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(num_freqs, dtype=torch.float32), persistent=False)
        self.extent = extent
        self.out_dim = 3 + 6 * num_freqs

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        x = q / self.extent
        xf = (x[..., None] * self.freqs).flatten(-2)
        return torch.cat([x, torch.sin(xf), torch.cos(xf)], dim=-1)


class QueryDeformer(nn.Module):
    """Per-dataset offset of each query (mm): MLP(dataset embedding, encoding) -> 3D offset.

    Starts at zero offset, so the canonical mesh is the initial landmark definition."""

    def __init__(self, encoding: PositionalEncoding, num_datasets: int, embed: int = 16, hidden: int = 128, max_offset: float = 15.0):
        super().__init__()
        self.encoding = encoding
        self.embedding = nn.Embedding(num_datasets, embed)
        self.net = mlp([encoding.out_dim + embed, hidden, hidden, 3])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.max_offset = max_offset

    def forward(self, q: torch.Tensor, dataset: torch.Tensor) -> torch.Tensor:
        """q (N, 3) canonical points, dataset (B,) ids -> (B, N, 3) offsets in mm."""
        enc = self.encoding(q)[None].expand(len(dataset), -1, -1)
        emb = self.embedding(dataset)[:, None, :].expand(-1, q.shape[0], -1)
        return self.max_offset * torch.tanh(self.net(torch.cat([enc, emb], dim=-1)) / self.max_offset)
