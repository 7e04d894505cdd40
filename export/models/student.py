"""The edge student: a depthwise-separable CNN to a feature vector (the part that is exported
and quantized), then a linear head and linear shape bases that stay in float in the runtime
(``edge_landmarks/decode.py`` is the numpy twin of ``Student.decode``).

Deployed form: one network on a face crop that the runtime resamples from the full-resolution
image with cv2.warpAffine; without a box, the runtime starts from the whole frame and re-frames
from the network's own landmarks (the model is its own localiser), and in video each frame is
framed from the previous landmarks.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from edge_landmarks.decode import HEAD_POSE_FIELDS, POSE_FIELDS  # the numpy tail reads the same head layout

from ..config import StudentConfig
from .camera import facing_camera, project, rotation_from_6d, to_camera
from .layers import conv_bn_act, mlp

IDENTITY_6D = (1.0, 0, 0, 0, 1.0, 0)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project; residual when shapes match.
    Only Conv/BN/ReLU/Add, which ONNX Runtime, OpenVINO and TFLite all run fast in int8."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        layers = [conv_bn_act(cin, mid, 1)] if expand != 1 else []
        layers += [conv_bn_act(mid, mid, 3, stride, groups=mid), conv_bn_act(mid, cout, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def feature_grid(cfg: StudentConfig) -> int:
    """Side of the last feature map, which the fully connected layer flattens: the stem and each
    stage's first block divide the input side by their stride, rounding up."""
    size = (cfg.input.size + 1) // 2
    for _, _, stride, _ in cfg.stages:
        size = (size + stride - 1) // stride
    return size


def refine_stride(cfg: StudentConfig) -> int:
    """Input pixels per cell of the refinement map: the stem's stride times the strides of the
    stages up to ``refine_tap``."""
    return 2 * math.prod(s[2] for s in cfg.stages[:cfg.refine_tap + 1])


class StudentBackbone(nn.Module):
    """image (B, 3, S, S) normalised RGB -> features (B, F), post-ReLU; with local refinement
    (``cfg.refine_channels``) also the refinement map (B, E, S / stride, S / stride), post-ReLU,
    computed from the output of stage ``cfg.refine_tap``. Exported through ``ExportedStudent``."""

    def __init__(self, cfg: StudentConfig):
        super().__init__()
        stem = cfg.stages[0][0]
        layers: list[nn.Module] = [conv_bn_act(3, stem, 3, 2)]
        cin = stem
        for cout, n, stride, expand in cfg.stages:
            for k in range(n):
                layers.append(InvertedResidual(cin, cout, stride if k == 0 else 1, expand))
                cin = cout
        layers.append(conv_bn_act(cin, cfg.reduce, 1))
        self.features = nn.Sequential(*layers)
        size = feature_grid(cfg)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(cfg.reduce * size * size, cfg.features), nn.ReLU())
        if cfg.refine_channels:
            self.tap = 1 + sum(s[1] for s in cfg.stages[:cfg.refine_tap + 1])  # layers up to the tapped stage's end
            self.refine = conv_bn_act(cfg.stages[cfg.refine_tap][0], cfg.refine_channels, 1)

    def forward(self, image: torch.Tensor):
        if not hasattr(self, "refine"):
            return self.fc(self.features(image))
        x = self.features[:self.tap](image)
        return self.fc(self.features[self.tap:](x)), self.refine(x)


def point_encoding(points: torch.Tensor) -> torch.Tensor:
    """Canonical positions (N, 3) mm -> (N, 27) features the read-out weights are a function of:
    the position per 50 mm and sines and cosines at four octaves (the numpy twin is
    ``edge_landmarks.decode.point_encoding``)."""
    x = points / 50.0
    freqs = (2.0 ** torch.arange(4, dtype=points.dtype, device=points.device)) * math.pi / 2
    a = (x[:, :, None] * freqs).reshape(len(points), -1)
    return torch.cat([x, a.sin(), a.cos()], dim=-1)


class Readout(nn.Module):
    """Local refinement of the student: each point reads the refinement map (bilinear, at where
    it landed in the input) and turns those E values into a canonical 3D offset with weights
    (E x 3, plus a bias) that a small network computes from the point's canonical position, so
    any point of the face, bundled layout or custom, is refined the same way. The last layer
    starts at zero: a warm-started student is the same function."""

    def __init__(self, channels: int, hidden: int, stride: int, scale: float):
        super().__init__()
        self.channels, self.stride, self.scale = channels, stride, scale
        self.weights = mlp([27, hidden, hidden, channels * 3 + 3])
        nn.init.zeros_(self.weights[-1].weight)
        nn.init.zeros_(self.weights[-1].bias)

    def forward(self, refine_map: torch.Tensor, landmarks: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """(B, E, H, W) map, (B, N, 2) input pixels, (N, 3) canonical means -> (B, N, 3) mm."""
        b, e, h, w = refine_map.shape
        where = landmarks.detach()
        grid = torch.stack([(2 * where[..., 0] + 1) / (w * self.stride) - 1, (2 * where[..., 1] + 1) / (h * self.stride) - 1], -1)
        v = F.grid_sample(refine_map, grid[:, :, None, :], mode="bilinear", padding_mode="border", align_corners=False)
        v = v[..., 0].transpose(1, 2)  # (B, N, E)
        wb = self.weights(point_encoding(mean.detach())).reshape(len(mean), e + 1, 3)
        return self.scale * (torch.einsum("bne,ned->bnd", v, wb[:, :e]) + wb[:, e])


class ExportedStudent(nn.Module):
    """The network a bundle ships: image (B, 3, S, S) -> (B, F + H * W * E), the backbone's
    features followed, with local refinement, by its refinement map flattened row by row with
    the channels last (an H x W image of E channels, as the runtime's ``cv2.remap`` reads it).
    One output keeps every backend's interface (and int8 recipe) the same; the runtime's tail
    splits it (``edge_landmarks/decode.py``)."""

    def __init__(self, backbone: StudentBackbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.backbone(image)
        if not isinstance(out, tuple):
            return out
        features, refine_map = out
        return torch.cat([features, refine_map.permute(0, 2, 3, 1).flatten(1)], dim=1)


class Student(nn.Module):
    """Backbone + float head. ``forward(image, point_sets)`` decodes each named set of points.

    ``point_sets`` maps a name to ``(mean (N, 3), basis (K, N, 3), normals (N, 3))`` tensors,
    e.g. from ``layout_rows`` or ``dense_rows`` (both trainable). ``rotation`` is the head pose
    the student reports; the landmarks, camera-space points and visibility are projected with
    ``rotation_projection``, the same matrix unless ``cfg.pose_head`` gives the reported pose a
    rotation of its own (as the stage-17 teacher's detached pose head does, docs/TEACHER.md)."""

    def __init__(self, cfg: StudentConfig, dense_mean: torch.Tensor, layout_ids: dict[str, torch.Tensor]):
        super().__init__()
        self.cfg = cfg
        self.backbone = StudentBackbone(cfg)
        k = cfg.num_coeffs
        self.head = nn.Linear(cfg.features, k + POSE_FIELDS + (HEAD_POSE_FIELDS if cfg.pose_head else 0))
        nn.init.normal_(self.head.weight, std=1e-3)
        with torch.no_grad():
            self.head.bias.zero_()
            self.head.bias[k:k + 6] = torch.tensor(IDENTITY_6D)
            if cfg.pose_head:
                self.head.bias[k + POSE_FIELDS:] = torch.tensor(IDENTITY_6D)
        v = dense_mean.shape[0]
        self.dense_mean = nn.Parameter(dense_mean.clone().float())
        self.dense_basis = nn.Parameter(torch.randn(k, v, 3) * 0.1)
        self.layout_mean = nn.ParameterDict({n: nn.Parameter(dense_mean[ids].clone().float()) for n, ids in layout_ids.items()})
        self.layout_basis = nn.ParameterDict({n: nn.Parameter(self.dense_basis.data[:, ids].clone()) for n, ids in layout_ids.items()})
        if cfg.refine_channels:
            self.readout = Readout(cfg.refine_channels, cfg.refine_hidden, refine_stride(cfg), cfg.refine_scale)

    def layout_rows(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.layout_mean[name], self.layout_basis[name]

    def dense_rows(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dense_mean[ids], self.dense_basis[:, ids]

    def decode(self, features: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor, normals: torch.Tensor,
               refine_map: torch.Tensor | None = None) -> dict:
        cfg = self.cfg
        raw = self.head(features)
        k = cfg.num_coeffs
        coeffs, pose = raw[:, :k], raw[:, k:]
        canonical = mean[None] + torch.einsum("bk,knd->bnd", coeffs, basis)
        projection = rotation_from_6d(pose[:, :6])
        rotation = rotation_from_6d(pose[:, POSE_FIELDS:]) if cfg.pose_head else projection
        s = cfg.input.size
        focal = cfg.focal0 * s * pose[:, 9].exp()
        tz = cfg.depth0 * pose[:, 8].exp()
        txy = pose[:, 6:8] * (s / 2) * (tz / focal)[:, None]
        translation = torch.cat([txy, tz[:, None]], dim=-1)
        cam = to_camera(canonical, projection, translation)
        landmarks = project(cam, focal, (s - 1) / 2)
        coarse = landmarks
        if refine_map is not None:
            canonical = canonical + self.readout(refine_map, landmarks, mean)
            cam = to_camera(canonical, projection, translation)
            landmarks = project(cam, focal, (s - 1) / 2)
        return {
            "landmarks": landmarks, "landmarks_coarse": coarse,
            "canonical": canonical, "camera": cam, "rotation": rotation, "rotation_projection": projection,
            "translation": translation, "focal": focal, "visibility": facing_camera(normals, projection, cam),
            "score_logit": pose[:, 10],
            "coeffs": coeffs, "log_focal": pose[:, 9],
        }

    def forward(self, image: torch.Tensor, point_sets: dict[str, tuple]) -> dict[str, dict]:
        f = self.backbone(image)
        f, m = f if isinstance(f, tuple) else (f, None)
        return {name: self.decode(f, *rows, refine_map=m) for name, rows in point_sets.items()}
