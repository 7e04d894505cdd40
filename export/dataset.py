"""Torch dataset of augmented faces for the teacher (real 2D-annotated images held in memory)."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from edge_landmarks.data import FaceSample

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
