"""The teacher of "Infinite 3D Landmarks" (Chandran et al.): spatial transformer -> pose backbone
-> continuous 3D queries -> canonical 3D landmarks -> rigid transform and perspective projection
-> inverse region transform to input pixels, with visibility from rotated mesh normals."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import TeacherConfig
from .backbone import PoseBackbone
from .camera import facing_camera, project, rotation_from_6d, to_camera
from .head import QueryHead
from .queries import PositionalEncoding, QueryDeformer
from .refine import LocalRefiner
from .stn import SpatialTransformer, crop_to_input_pixels, region_turn

FINE_TAPS = (-1, 0)  # the fine refinement steps read the stem (stride 2) and the first stage (stride 4)


class Teacher(nn.Module):
    """forward(image, queries, normals, dataset) -> dict of tensors:

    - ``theta`` (B, 2, 3): region of interest, normalised crop -> normalised input coordinates;
    - ``landmarks`` (B, N, 2): input-image pixels; ``landmarks_crop`` (B, N, 2): crop pixels;
      ``landmarks_coarse_crop`` (B, N, 2): crop pixels before the local refinement steps (the
      same without them);
    - ``canonical`` (B, N, 3): predicted 3D landmarks in the canonical frame, mm (refined when
      ``refine_taps`` is set: each of ``refine_steps``, then of ``refine_fine``, reads features
      where the previous one put the points);
    - ``camera`` (B, N, 3): the same in the crop's camera space (OpenCV axes), mm;
    - ``rotation`` (B, 3, 3): the head rotation the teacher reports; ``rotation_projection``
      (B, 3, 3), ``translation`` (B, 3) mm, ``focal`` (B,) crop pixels: the crop's camera that the
      landmarks, camera-space points and visibility come from (with ``pose_detached`` the trunk's
      own rotation, otherwise ``rotation`` itself);
    - ``rotation_input`` (B, 3, 3), ``camera_input`` (B, N, 3): the head rotation and camera-space
      points turned into the input image's orientation (the region's in-plane angle undone), so
      pose is measured in the image, whatever angle the spatial transformer chose;
    - ``visibility`` (B, N) in [0, 1]: the rotated surface normal faces the camera;
    - ``query_offsets`` (B, N, 3): the per-dataset query deformation, mm.
    """

    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.stn = SpatialTransformer(cfg.crop_size, cfg.stn_init_scale)
        if not cfg.use_stn:
            for p in self.stn.parameters():
                p.requires_grad_(False)
        self.backbone = PoseBackbone(cfg.crop_size, cfg.widths, cfg.blocks, cfg.descriptor, cfg.pose_branch,
                                     cfg.pose_detached, self.refine_taps(cfg))
        self.encoding = PositionalEncoding(cfg.pe_freqs)
        self.deformer = QueryDeformer(self.encoding, len(cfg.datasets))
        self.head = QueryHead(self.backbone.out_dim, self.encoding.out_dim)
        taps = self.backbone.tap_channels
        coarse = [LocalRefiner({t: taps[t] for t in cfg.refine_taps}, self.backbone.out_dim, self.encoding.out_dim, cfg.crop_size)
                  for _ in range(cfg.refine_steps if cfg.refine_taps else 0)]
        fine = [LocalRefiner({t: taps[t] for t in FINE_TAPS}, self.backbone.out_dim, self.encoding.out_dim, cfg.crop_size,
                             patch=5, spacing=2.0) for _ in range(cfg.refine_fine)]
        self.refiners = nn.ModuleList(coarse + fine)

    @staticmethod
    def refine_taps(cfg: TeacherConfig) -> tuple[int, ...]:
        """The backbone stages the refinement steps read (-1: the stem)."""
        taps = set(cfg.refine_taps if cfg.refine_steps else ()) | (set(FINE_TAPS) if cfg.refine_fine else set())
        return tuple(sorted(taps))

    def forward(self, image: torch.Tensor, queries: torch.Tensor, normals: torch.Tensor, dataset: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        crop, theta = self.stn(image)
        descriptor, pose, head_rotation, maps = self.backbone(crop)
        offsets = self.deformer(queries, dataset)
        q = queries[None] + offsets
        encoded = self.encoding(q)
        canonical = q + self.head(descriptor, encoded)

        projection = rotation_from_6d(pose[:, :6])
        rotation = rotation_from_6d(head_rotation) if cfg.pose_detached else projection
        c = (cfg.crop_size - 1) / 2
        focal = cfg.focal0 * cfg.crop_size * pose[:, 9].exp()
        tz = cfg.depth0 * pose[:, 8].exp()
        txy = pose[:, 6:8] * (cfg.crop_size / 2) * tz[:, None] / focal[:, None]
        translation = torch.cat([txy, tz[:, None]], dim=-1)
        cam = to_camera(canonical, projection, translation)
        lm_crop = project(cam, focal, c)
        coarse = lm_crop
        for refiner in self.refiners:
            canonical = canonical + refiner(maps, lm_crop, descriptor, encoded)
            cam = to_camera(canonical, projection, translation)
            lm_crop = project(cam, focal, c)
        lm_input = crop_to_input_pixels(lm_crop, theta, cfg.crop_size, cfg.input.size)

        visibility = facing_camera(normals, projection, cam)
        turn = region_turn(theta)
        return {
            "theta": theta,
            "crop": crop,
            "landmarks": lm_input,
            "landmarks_crop": lm_crop,
            "landmarks_coarse_crop": coarse,
            "canonical": canonical,
            "camera": cam,
            "rotation": rotation,
            "rotation_projection": projection,
            "rotation_input": turn @ rotation,
            "camera_input": cam @ turn.transpose(1, 2),
            "translation": translation,
            "focal": focal,
            "visibility": visibility,
            "query_offsets": offsets,
            "pose_raw": pose,
        }
