"""Torch dataset of augmented faces for the teacher (real 2D-annotated images held in memory)."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from edge_landmarks.data import FaceSample
from edge_landmarks.geometry import affine_scale

from .augment import AugmentConfig, frame_face, photometric, to_tensor_layout
from .config import InputSpec


class LandmarkDataset(Dataset):
    """Yields dicts: ``image`` (3, S, S) float32, ``landmarks`` (N, 2) input pixels, ``dataset`` id.

    With ``augment`` set, each (epoch, index) pair draws its own deterministic jitter; call
    ``set_epoch`` before each epoch."""

    def __init__(self, samples: list[FaceSample], spec: InputSpec, flip_perm: np.ndarray, dataset_id: int = 0,
                 augment: AugmentConfig | None = None, seed: int = 0):
        self.samples = samples
        self.images = [s.load_image() for s in samples]
        self.spec = spec
        self.flip_perm = np.asarray(flip_perm)
        self.dataset_id = dataset_id
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        cv2.setNumThreads(1)
        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.augment else None
        img, pts, _ = frame_face(self.images[i], self.samples[i].landmarks, self.spec.size, self.spec.enlarge,
                                 self.flip_perm, rng, self.augment or AugmentConfig())
        if rng is not None:
            img = photometric(img, rng, self.augment)
        return {
            "image": torch.from_numpy(to_tensor_layout(img, self.spec.mean, self.spec.std)),
            "landmarks": torch.from_numpy(pts),
            "dataset": torch.tensor(self.dataset_id),
        }


class SyntheticDataset(Dataset):
    """Rendered faces (``export.synthetic``) with their 3D truth, augmented like the real ones
    except for flips. Yields ``image``, ``landmarks`` (68, 2) input pixels, ``dataset`` id, and
    ``rotation`` (3, 3) in the input's camera frame (turned with the in-plane rotation of the
    framing), ``canonical`` (68, 3) mm, ``visible`` (68,) self-visibility (0/1)."""

    def __init__(self, samples, spec: InputSpec, dataset_id: int, augment: AugmentConfig, seed: int = 0):
        from .models.camera import CANONICAL_TO_CAMERA

        c2c = CANONICAL_TO_CAMERA.double().numpy()
        self.images = [s.image for s in samples]
        self.landmarks = [s.landmarks_2d("ibug68").astype(np.float32) for s in samples]
        self.rotation = [s.rotation.astype(np.float64) for s in samples]
        self.canonical = [((s.landmarks_3d("ibug68") - s.translation) @ s.rotation @ c2c).astype(np.float32)
                          for s in samples]
        self.visible = [s.self_visible[s.ids("ibug68")].astype(np.float32) for s in samples]
        self.spec, self.dataset_id, self.seed, self.epoch = spec, dataset_id, seed, 0
        self.augment = replace(augment, flip_prob=0.0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        cv2.setNumThreads(1)
        rng = np.random.default_rng([self.seed, 7919, self.epoch, i])
        img, pts, m = frame_face(self.images[i], self.landmarks[i], self.spec.size, self.spec.enlarge,
                                 np.arange(68), rng, self.augment)
        img = photometric(img, rng, self.augment)
        turn = np.eye(3)
        turn[:2, :2] = m[:, :2] / affine_scale(m)
        return {
            "image": torch.from_numpy(to_tensor_layout(img, self.spec.mean, self.spec.std)),
            "landmarks": torch.from_numpy(pts),
            "dataset": torch.tensor(self.dataset_id),
            "rotation": torch.from_numpy((turn @ self.rotation[i]).astype(np.float32)),
            "canonical": torch.from_numpy(self.canonical[i]),
            "visible": torch.from_numpy(self.visible[i]),
        }
