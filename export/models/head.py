"""Landmark head: each query's 3D position in canonical space from the image descriptor and
the query's encoding (an MLP shared by all queries, so any canonical point can be asked for)."""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import mlp


class QueryHead(nn.Module):
    """(descriptor (B, D), encoded queries (B, N, E)) -> canonical offsets (B, N, 3), mm."""

    def __init__(self, descriptor: int, encoding: int, hidden: int = 256, offset_scale: float = 10.0):
        super().__init__()
        self.from_image = nn.Linear(descriptor, hidden)
        self.from_query = nn.Linear(encoding, hidden, bias=False)
        self.net = mlp([hidden, hidden, hidden, 3])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.offset_scale = offset_scale

    def forward(self, descriptor: torch.Tensor, query_encoding: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.from_image(descriptor)[:, None, :] + self.from_query(query_encoding))
        return self.offset_scale * self.net(h)
