"""Teacher training: progress bar, EMA weights, per-epoch validation on the held-out people,
checkpoints every epoch and resume. Recipe: ``export/recipes/teacher.json``."""
from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from edge_landmarks.data import load_ytf68
from edge_landmarks.data.ytf68 import LABEL_X_OFFSET
from edge_landmarks.data.split import train_val
from edge_landmarks.geometry import tight_box
from edge_landmarks.metrics import landmark_report, nme_per_face
from edge_landmarks.paths import shared_data_dir

from . import losses
from .augment import AugmentConfig
from .canonical_sfm import DEFAULT_SFM_DIR, build_canonical_face
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .dataset import LandmarkDataset
from .loop import epoch_loader, optimisation, prefetch, record_epoch, resume_from, run_epoch
from .models import Teacher
from .models.stn import crop_to_input_pixels, input_to_crop_pixels
from .predict import TeacherPredictor

DEFAULT_DATA = shared_data_dir() / "ytf68"
BRANCH_PREFIXES = ("backbone.pose_features.", "backbone.pose_reduce.", "backbone.pose_descriptor.", "backbone.pose_rotation.")


def warm_start(model: Teacher, path: str | Path) -> None:
    """Load the weights of a teacher checkpoint (EMA if present) into ``model``. Without a
    spatial transformer the checkpoint's learned one is dropped, so the crop stays the fixed
    initial region. A deeper backbone (more blocks per stage, same widths) takes the old blocks
    in place and starts each added block as the identity (its last BatchNorm scale zeroed), so
    training resumes from the same function with more capacity. A larger crop and input fit when
    the backbone's last feature map keeps its size (stage 14: 112 to 128 px, 4 x 4 both). A pose
    branch missing from the checkpoint starts as a copy of the trunk (``branch_weights``); a
    detached one (stage 17) is left out of a model without a branch, which is then the trunk. Local
    refinement steps the checkpoint lacks start at zero offsets (stages 18 and 20)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    weights = {k: v.float() for k, v in (ck.get("ema") or ck["model"]).items() if k != "n_averaged"}
    if getattr(ck["config"]["model"], "pose_detached", False) and not model.cfg.pose_branch:
        weights = {k: v for k, v in weights.items() if not k.startswith(BRANCH_PREFIXES)}
        print(f"{path}: its detached pose branch is left out (the trunk is the same function without it)")
    if not model.cfg.use_stn:
        weights = {k: v for k, v in weights.items() if not k.startswith("stn.")}
    old_blocks, added = tuple(ck["config"]["model"].blocks), []
    if old_blocks != tuple(model.cfg.blocks):
        weights, added = deepen_weights(weights, old_blocks, tuple(model.cfg.blocks))
    weights = branch_weights(model, weights)
    target = model.state_dict()
    resized = [f"{k} {tuple(v.shape)} -> {tuple(target[k].shape)}" for k, v in weights.items()
               if k in target and v.shape != target[k].shape]
    if resized:
        raise ValueError(f"{path} does not fit this teacher (a different crop or input size must keep the backbone's "
                         f"last feature map, widths and descriptor): {', '.join(resized[:3])}")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or any(not (k.startswith(("stn.", "refiners.")) or k.split(".body.")[0] in added) for k in missing):
        raise ValueError(f"{path} does not fit this teacher: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        for name in added:
            model.get_submodule(name).body[-1][1].weight.zero_()
    print(f"warm start from {path}" + (f" ({len(added)} identity blocks added)" if added else ""))


def branch_weights(model: Teacher, weights: dict) -> dict:
    """``weights`` plus, for a pose branch the checkpoint lacks, copies of the trunk layers it
    duplicates (and of the trunk's rotation rows for a detached rotation head): the warm-started
    teacher starts as the same function."""
    out = dict(weights)
    if model.backbone.pose_rotation is not None and "backbone.pose_rotation.weight" not in weights:
        out["backbone.pose_rotation.weight"] = weights["backbone.pose.weight"][:6].clone()
        out["backbone.pose_rotation.bias"] = weights["backbone.pose.bias"][:6].clone()
    if any(k.startswith("backbone.pose_features.") for k in weights):
        return out
    for branch, source in model.backbone.branch_sources().items():
        for key, value in weights.items():
            if key.startswith("backbone." + source):
                out["backbone." + branch + key[len("backbone." + source):]] = value.clone()
    return out


def deepen_weights(weights: dict, old: tuple, new: tuple, prefix: str = "backbone.features.",
                   stem: int = 2) -> tuple[dict, list[str]]:
    """Backbone weights renumbered from ``old`` to ``new`` blocks per stage (``stem`` layers first,
    any layers after the blocks moved along), and the names of the added blocks. Used to deepen
    the teacher (two stem layers) and to grow the student (one)."""
    if len(old) != len(new) or any(n < o for o, n in zip(old, new)):
        raise ValueError(f"cannot grow a backbone with blocks {old} into {new}")
    index, added, i_old, i_new = {k: k for k in range(stem)}, [], stem, stem
    for o, n in zip(old, new):
        for k in range(n):
            if k < o:
                index[i_old + k] = i_new + k
            else:
                added.append(f"{prefix}{i_new + k}".rstrip("."))
        i_old, i_new = i_old + o, i_new + n
    out = {}
    for key, value in weights.items():
        if key.startswith(prefix):
            layer, rest = key[len(prefix):].split(".", 1)
            key = f"{prefix}{index.get(int(layer), int(layer) - i_old + i_new)}.{rest}"
        out[key] = value
    return out, added


def compute_loss(model: Teacher, batch: dict, queries: torch.Tensor, normals: torch.Tensor,
                 flip_perm: torch.Tensor, cfg: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Total training loss of one batch and its named parts."""
    total, parts, _ = _loss_and_output(model, batch, queries, normals, flip_perm, cfg)
    return total, parts


def _loss_and_output(model: Teacher, batch: dict, queries: torch.Tensor, normals: torch.Tensor,
                     flip_perm: torch.Tensor, cfg: TrainConfig) -> tuple[torch.Tensor, dict[str, float], dict]:
    out = model(batch["image"], queries, normals, batch["dataset"])
    target = batch["landmarks"]
    mc = model.cfg
    target_crop = input_to_crop_pixels(target, out["theta"], mc.crop_size, mc.input.size)
    target_crop_norm = (2 * target_crop + 1) / mc.crop_size - 1
    parts = {
        "landmarks": losses.wing_loss(out["landmarks"], target, cfg.wing_width),
        "shape": losses.shape_prior(out["canonical"], queries + out["query_offsets"].mean(0)),
        "symmetry": losses.symmetry(out["canonical"], flip_perm),
        "region": losses.region_prior(out["theta"], target_crop_norm) if mc.use_stn else target.new_zeros(()),
        "focal": losses.focal_prior(out["pose_raw"][:, 9]),
        "upright": losses.upright(out["canonical"], queries) if cfg.w_upright else target.new_zeros(()),
        "coarse": losses.wing_loss(crop_to_input_pixels(out["landmarks_coarse_crop"], out["theta"], mc.crop_size, mc.input.size),
                                   target, cfg.wing_width) if cfg.w_coarse else target.new_zeros(()),
    }
    w = {"landmarks": cfg.w_landmarks, "shape": cfg.w_shape_prior, "symmetry": cfg.w_symmetry,
         "region": cfg.w_region, "focal": cfg.w_focal_prior, "upright": cfg.w_upright, "coarse": cfg.w_coarse}
    total = sum(w[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}, out


def synthetic_loss(model: Teacher, batch: dict, queries: torch.Tensor, normals: torch.Tensor,
                   flip_perm: torch.Tensor, cfg: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """``compute_loss`` on rendered faces plus what only they can supervise: head rotation,
    canonical 3D shape and self-visibility."""
    total, parts, out = _loss_and_output(model, batch, queries, normals, flip_perm, cfg)
    rot = (out["rotation_input"] - batch["rotation"]).pow(2).sum((1, 2)).sqrt().mean()
    canon = ((out["canonical"] - batch["canonical"]) / 10.0).norm(dim=-1).mean()
    vis = torch.nn.functional.binary_cross_entropy(out["visibility"].clamp(1e-4, 1 - 1e-4), batch["visible"])
    total = cfg.w_synthetic_2d * total + cfg.w_rotation * rot + cfg.w_canonical * canon + cfg.w_visibility * vis
    parts = {f"syn_{k}": v for k, v in parts.items()} | {"syn_rotation": float(rot.detach()), "syn_canonical": float(canon.detach()),
                                                          "syn_visibility": float(vis.detach())}
    return total, parts


def freeze(model: torch.nn.Module, prefixes: tuple[str, ...]) -> tuple[torch.nn.Module, ...]:
    """Keep the parameters and BatchNorm running statistics under ``prefixes`` as they are: a
    fine-tune that must not move a warm-started part (e.g. the trunk a real-only run trained).
    Returns the frozen BatchNorm layers."""
    if not prefixes:
        return ()
    frozen = [p for n, p in model.named_parameters() if n.startswith(tuple(prefixes))]
    if not frozen:
        raise ValueError(f"frozen prefixes {list(prefixes)} match no parameter of the model")
    for p in frozen:
        p.requires_grad_(False)
    norms = tuple(m for n, m in model.named_modules()
                  if (n + ".").startswith(tuple(prefixes)) and isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    for m in norms:
        m.momentum = 0.0
    return norms


@contextmanager
def _running_stats_frozen(model: torch.nn.Module):
    """BatchNorm layers normalise with the batch's own statistics but leave their running
    statistics, the ones inference uses, to the real faces."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum


def synthetic_training_set(cfg: TrainConfig, aug: AugmentConfig):
    """The rendered training faces of ``cfg.synthetic_faces`` (seeds 0 .. n-1), augmented."""
    from .dataset import SyntheticDataset
    from .synthetic.generate import iter_samples

    n = cfg.synthetic_faces
    samples = list(tqdm(iter_samples(range(n), cfg.synthetic_size), total=n, desc="render synthetic faces", mininterval=5))
    return SyntheticDataset(samples, cfg.model.input, cfg.model.datasets.index("synthetic"), aug, cfg.seed)


class _CycleLoader:
    """Endless iteration over ``make_loader(epoch)`` for epoch 0, 1, ... (for ``prefetch``)."""

    def __init__(self, make_loader):
        self.make_loader = make_loader

    def __len__(self) -> int:
        return 0

    def __iter__(self):
        epoch = 0
        while True:
            yield from self.make_loader(epoch)
            epoch += 1


def validate(model: Teacher, face, samples, images) -> dict:
    """NME report of ``model`` on samples, each framed from its ground-truth tight box."""
    pred = TeacherPredictor(model, face).predict(images, [tight_box(s.landmarks) for s in samples])
    gt = np.stack([s.landmarks for s in samples])
    return landmark_report(nme_per_face(pred.landmarks, gt), [s.name for s in samples]).to_dict()


def train(cfg: TrainConfig, out_dir: str | Path, data: str | Path = DEFAULT_DATA, sfm: str | Path = DEFAULT_SFM_DIR,
          resume: bool = True, limit: int | None = None) -> dict:
    """Train a teacher; writes ``last.pt``, ``best.pt``, ``history.jsonl`` and ``config.json`` in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    face = build_canonical_face(sfm)
    queries = torch.as_tensor(face.points("ibug68"), dtype=torch.float32)
    normals = torch.as_tensor(face.normals[face.layout_vertices("ibug68")], dtype=torch.float32)
    flip_perm = face.flip_permutation("ibug68")
    train_s, val_s = train_val(load_ytf68(data))
    if limit:
        train_s, val_s = train_s[:limit], val_s[: max(8, limit // 4)]
    aug = AugmentConfig(cfg.max_rotation, cfg.rotation_uniform_prob, cfg.rotation_std, cfg.scale_range, cfg.max_shift,
                        occluder_prob=cfg.occluder_prob, label_x_offset=LABEL_X_OFFSET)
    ds = LandmarkDataset(train_s, cfg.model.input, flip_perm, cfg.model.datasets.index("ytf68"), aug, cfg.seed)
    syn = None
    if cfg.synthetic_faces:
        syn_ds = synthetic_training_set(cfg, aug)

        def syn_loader(epoch):
            syn_ds.set_epoch(epoch)
            return DataLoader(syn_ds, batch_size=cfg.synthetic_batch, shuffle=True, drop_last=True,
                              generator=torch.Generator().manual_seed(cfg.seed * 1000 + 500 + epoch))
        syn = iter(prefetch(_CycleLoader(syn_loader)))
    val_images = [s.load_image() for s in val_s]

    model = Teacher(cfg.model)
    if cfg.init:
        warm_start(model, cfg.init)
    frozen_norms = freeze(model, cfg.frozen)
    fixed = frozen_norms if cfg.frozen_eval else ()
    params = [p for p in model.parameters() if p.requires_grad]
    ema, opt, sched = optimisation(model, params, cfg, math.ceil(len(ds) / cfg.batch_size))
    last = out_dir / "last.pt"
    start, best = resume_from(last, model, ema, opt, sched) if resume else (0, float("inf"))
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    q, n, fp = queries, normals, torch.as_tensor(flip_perm)
    summary = {}

    def step_loss(batch):
        loss, parts = compute_loss(model, batch, q, n, fp, cfg)
        if syn is not None:
            with _running_stats_frozen(model) if cfg.synthetic_bn_frozen else nullcontext():
                syn_total, syn_parts = synthetic_loss(model, next(syn), q, n, fp, cfg)
            loss, parts = loss + syn_total, parts | syn_parts
        return loss, parts

    for epoch in range(start, cfg.epochs):
        ds.set_epoch(epoch)
        t0 = time.time()
        run = run_epoch(model, epoch_loader(ds, cfg, epoch), step_loss, params, opt, sched, ema, f"epoch {epoch + 1}/{cfg.epochs}",
                        fixed)
        ema.module.eval()
        rep = validate(ema.module, face, val_s, val_images)
        rep.pop("per_face")
        summary = {"epoch": epoch + 1, "time_s": round(time.time() - t0, 1), "lr": sched.get_last_lr()[0], "train": run, "val": rep}
        record_epoch(out_dir, summary, cfg.epochs)
        state = {"ema": ema.module.state_dict(), "ema_n": int(ema.n_averaged), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "epoch": epoch, "best": min(best, rep["nme_mean"]), "val": rep,
                 "train_config": cfg.to_dict()}
        save_checkpoint(last, model, face, **state)
        if rep["nme_mean"] < best:
            best = rep["nme_mean"]
            save_checkpoint(out_dir / "best.pt", model, face, **state)
    return summary
