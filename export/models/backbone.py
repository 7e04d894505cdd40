"""Backbone on the normalised crop: an image descriptor plus head pose and camera intrinsics."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn

from .layers import BasicBlock, conv_bn_act, mlp


class PoseBackbone(nn.Module):
    """ResNet-style CNN -> descriptor (B, D); pose head -> rotation 6D, image-plane centre,
    log depth and log focal (all relative to priors: the crop centre, ``depth0`` mm and
    ``focal0`` crop pixels).

    With ``pose_branch`` = k > 0 the last k stages, the reduction and the descriptor layers are
    duplicated into a branch that feeds only the pose head: rendered faces can then teach pose
    to the branch while the landmark descriptor keeps what real faces taught the trunk
    (docs/TEACHER.md, stage 15). With ``pose_detached`` as well, the branch has a rotation head
    of its own (``pose_rotation``) and the trunk keeps the pose head that the landmarks are
    projected with, so the reported head rotation can learn from rendered faces without moving
    any landmark (stage 17)."""

    def __init__(self, crop_size: int, widths: tuple[int, ...] = (32, 64, 128, 256), blocks: tuple[int, ...] = (1, 1, 1, 1),
                 descriptor: int = 256, pose_branch: int = 0, pose_detached: bool = False, taps: tuple[int, ...] = ()):
        super().__init__()
        if not 0 <= pose_branch <= len(widths):
            raise ValueError(f"pose_branch must be 0..{len(widths)} stages, got {pose_branch}")
        if pose_detached and not pose_branch:
            raise ValueError("pose_detached needs a pose branch (pose_branch >= 1)")
        w0 = widths[0]
        layers: list[nn.Module] = [conv_bn_act(3, w0 // 2, 3, 2), conv_bn_act(w0 // 2, w0, 3, 1)]
        cin = w0
        ends, channels = {-1: len(layers) - 1}, {-1: w0}
        for t, (w, n) in enumerate(zip(widths, blocks)):
            for k in range(n):
                layers.append(BasicBlock(cin, w, 2 if k == 0 else 1))
                cin = w
            ends[t], channels[t] = len(layers) - 1, w
        if any(t not in ends for t in taps):
            raise ValueError(f"feature taps must be stages 0..{len(widths) - 1} or -1 (the stem), got {taps}")
        self.taps = {ends[t]: t for t in taps}
        self.tap_channels = {t: channels[t] for t in taps}
        self.features = nn.Sequential(*layers)
        fs = math.ceil(crop_size / 2 ** (len(widths) + 1))
        self.reduce = conv_bn_act(cin, 32, 1)
        self.descriptor = mlp([32 * fs * fs, 2 * descriptor, descriptor], last_act=True)
        self.split = len(layers) - sum(blocks[len(blocks) - pose_branch:]) if pose_branch else None
        if pose_branch:
            self.pose_features = nn.Sequential(*copy.deepcopy(list(self.features)[self.split:]))
            self.pose_reduce = copy.deepcopy(self.reduce)
            self.pose_descriptor = copy.deepcopy(self.descriptor)
        self.pose = nn.Linear(descriptor, 10)
        nn.init.zeros_(self.pose.weight)
        with torch.no_grad():
            self.pose.bias.copy_(torch.tensor([1.0, 0, 0, 0, 1.0, 0, 0, 0, 0, 0]))
        self.pose_rotation = nn.Linear(descriptor, 6) if pose_detached else None
        if self.pose_rotation is not None:
            with torch.no_grad():
                self.pose_rotation.weight.copy_(self.pose.weight[:6])
                self.pose_rotation.bias.copy_(self.pose.bias[:6])
        self.out_dim = descriptor

    def branch_sources(self) -> dict[str, str]:
        """Pose-branch parameter prefix -> the trunk prefix it starts as a copy of."""
        if self.split is None:
            return {}
        pairs = {f"pose_features.{i}.": f"features.{self.split + i}." for i in range(len(self.pose_features))}
        return pairs | {"pose_reduce.": "reduce.", "pose_descriptor.": "descriptor."}

    def trunk(self, crop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, dict[int, torch.Tensor]]:
        """The trunk's last feature map, its input to the pose branch (None without one) and the
        outputs of the ``taps`` stages by stage index (-1: the stem)."""
        x, shared, maps = crop, None, {}
        for i, layer in enumerate(self.features):
            if i == self.split:
                shared = x
            x = layer(x)
            if i in self.taps:
                maps[self.taps[i]] = x
        return x, shared, maps

    def forward(self, crop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
        """Returns (descriptor (B, D), raw pose (B, 10): 6D rotation, centre xy, log depth, log
        focal, the head rotation (B, 6) in 6D: the pose's own unless ``pose_detached``, the
        ``taps`` feature maps)."""
        x, shared, maps = self.trunk(crop)
        d = self.descriptor(self.reduce(x).flatten(1))
        if self.split is None:
            pose = self.pose(d)
            return d, pose, pose[:, :6], maps
        p = self.pose_descriptor(self.pose_reduce(self.pose_features(shared)).flatten(1))
        if self.pose_rotation is None:
            pose = self.pose(p)
            return d, pose, pose[:, :6], maps
        return d, self.pose(d), self.pose_rotation(p), maps
