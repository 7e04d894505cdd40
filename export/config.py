"""Typed configs for the teacher model and its training recipe (JSON round-trip)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


def _checked(cls, d: dict) -> dict:
    """A copy of ``d``; unknown keys raise ValueError instead of being dropped silently."""
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; expected some of {sorted(known)}")
    return dict(d)


@dataclass(frozen=True)
class InputSpec:
    """How a face is prepared for the network; flows unchanged into checkpoints and bundles.

    The face box is squared, enlarged by ``enlarge``, and resampled to ``size`` x ``size`` RGB,
    values scaled as ``(x / 255 - mean) / std``."""

    size: int = 128
    enlarge: float = 1.6
    color: str = "rgb"
    mean: float = 0.5
    std: float = 0.5


@dataclass(frozen=True)
class TeacherConfig:
    input: InputSpec = field(default_factory=InputSpec)
    crop_size: int = 112
    use_stn: bool = True
    stn_init_scale: float = 0.8
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    descriptor: int = 256
    pe_freqs: int = 6
    datasets: tuple[str, ...] = ("ytf68", "synthetic")
    depth0: float = 600.0
    focal0: float = 2.9  # prior focal length in crop widths
    pose_branch: int = 0  # last backbone stages duplicated into a pose-only branch (models/backbone.py)
    pose_detached: bool = False  # the branch's rotation is reported only; landmarks project with the trunk's
    refine_taps: tuple[int, ...] = ()  # backbone stages a refinement step reads around each point (models/refine.py)
    refine_steps: int = 1  # cascaded refinement steps when refine_taps is set, each with its own weights
    refine_fine: int = 0  # more steps after those, reading the stem and first stage on a 5 x 5 patch 2 crop px apart

    @classmethod
    def from_dict(cls, d: dict) -> "TeacherConfig":
        d = _checked(cls, d)
        if "input" in d:
            d["input"] = InputSpec(**d["input"])
        for k in ("widths", "blocks", "datasets", "refine_taps"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass(frozen=True)
class StudentConfig:
    """The edge student: MobileNetV2-style stages ``(channels, blocks, stride, expansion)`` after a
    stride-2 stem, a 1x1 reduction, a flattened fully connected feature layer, and a float head
    of ``num_coeffs`` shape coefficients plus pose (see ``export/models/student.py``)."""

    input: InputSpec = field(default_factory=lambda: InputSpec(size=96, enlarge=1.5))
    stages: tuple[tuple[int, int, int, int], ...] = ((16, 1, 1, 1), (24, 2, 2, 3), (40, 2, 2, 3), (64, 2, 2, 3), (96, 1, 2, 3))
    reduce: int = 64
    features: int = 256
    num_coeffs: int = 32
    depth0: float = 600.0
    focal0: float = 2.9
    pose_head: bool = False  # a rotation of its own (6 more head outputs) reports the head pose; the landmarks keep theirs
    refine_channels: int = 0  # local refinement (models/student.py): channels of the map read at each point; 0 = none
    refine_tap: int = 2  # the stage whose output that map is computed from (2: stride 8, a 16 x 16 map at a 128 px input)
    refine_hidden: int = 128  # width of the network that turns a point's canonical position into its read-out weights
    refine_scale: float = 2.0  # mm of canonical offset per unit of read-out

    @classmethod
    def from_dict(cls, d: dict) -> "StudentConfig":
        d = _checked(cls, d)
        if "input" in d:
            d["input"] = InputSpec(**d["input"])
        if "stages" in d:
            d["stages"] = tuple(tuple(s) for s in d["stages"])
        return cls(**d)


@dataclass(frozen=True)
class DistillConfig:
    """Recipe of ``edge-landmarks distill``: the student, its teacher and the loss weights."""

    student: StudentConfig = field(default_factory=StudentConfig)
    teacher: str = "export/checkpoints/teacher.pt"
    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    ema_decay: float = 0.998
    seed: int = 0
    threads: int = 0
    init: str = ""  # warm start: the weights of this student checkpoint (same architecture, or one it can grow into); "" = from scratch
    w_landmarks: float = 1.0  # ground-truth 2D (ibug68), wing loss in input pixels
    w_teacher_2d: float = 0.3  # teacher's dense and wflw98 points, projected
    w_teacher_3d: float = 0.3  # teacher's canonical 3D points (per 10 mm)
    w_score: float = 0.2
    w_rotation: float = 0.0  # head rotation vs the teacher's (real faces) or the true one (rendered faces), Frobenius
    w_focal_prior: float = 0.1
    dense_points: int = 512  # teacher-supervised dense vertices per step
    max_rotation: float = 45.0
    rotation_uniform_prob: float = 0.6  # share of rotations drawn uniformly in ±max_rotation; the others ~ N(0, rotation_std)
    rotation_std: float = 5.0
    loose_prob: float = 0.25  # share of loosely framed crops (the no-box localiser's first pass)
    synthetic_faces: int = 0  # rendered faces (seeds 0 .. n-1) added with their exact dense 2D/3D targets
    negative_prob: float = 0.15  # share of crops with no face (or only part of one), for the score
    textureless_negatives: float = 0.3  # of those, share replaced by flat colour, noise or a gradient

    @classmethod
    def from_dict(cls, d: dict) -> "DistillConfig":
        d = _checked(cls, d)
        if "student" in d:
            d["student"] = StudentConfig.from_dict(d["student"])
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> "DistillConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    model: TeacherConfig = field(default_factory=TeacherConfig)
    epochs: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    ema_decay: float = 0.998
    seed: int = 0
    threads: int = 0  # 0: torch's default
    init: str = ""  # warm start: model weights (EMA if present) of this teacher checkpoint; "" = from scratch
    frozen: tuple[str, ...] = ()  # parameter-name prefixes kept as warm-started (e.g. "stn.", "backbone.features.")
    frozen_eval: bool = False  # frozen BatchNorm layers normalise with their running statistics in training too, as at inference
    # loss weights
    w_landmarks: float = 1.0
    wing_width: float = 10.0  # the wing loss's log range, input px; 0 = plain point distance (what NME averages)
    w_shape_prior: float = 0.02
    w_symmetry: float = 0.02
    w_upright: float = 0.0  # canonical shapes' rigid turn against the template (losses.upright); measured not to help pose
    w_region: float = 1.0
    w_coarse: float = 0.0  # the landmarks before the local refinement (refine_taps), wing loss like the refined ones
    w_focal_prior: float = 0.1
    # synthetic faces (export.synthetic) mixed into every step; 0 = real faces only
    synthetic_faces: int = 0  # rendered once, seeds 0 .. n-1 (the eval-3d test set uses other seeds)
    synthetic_batch: int = 16
    synthetic_size: int = 160
    synthetic_bn_frozen: bool = False  # rendered batches leave BatchNorm's running statistics to the real faces
    w_synthetic_2d: float = 1.0  # scales the rendered faces' 2D and prior losses (their 3D losses keep their weights)
    w_rotation: float = 1.0  # synthetic only: |R - R_true| (Frobenius)
    w_canonical: float = 0.05  # synthetic only: canonical 3D points, per 10 mm
    w_visibility: float = 0.1  # synthetic only: BCE against self-visibility
    # augmentation
    max_rotation: float = 50.0
    rotation_uniform_prob: float = 0.7
    rotation_std: float = 5.0
    scale_range: tuple[float, float] = (0.65, 1.5)
    max_shift: float = 0.25
    occluder_prob: float = 0.3

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = _checked(cls, d)
        if "model" in d:
            d["model"] = TeacherConfig.from_dict(d["model"])
        if "scale_range" in d:
            d["scale_range"] = tuple(d["scale_range"])
        if "frozen" in d:
            d["frozen"] = tuple(d["frozen"])
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict:
        return asdict(self)
