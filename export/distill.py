"""Distillation of the teacher into the edge student (``edge-landmarks distill``).

Targets per training face: the ground-truth 68 points (2D), and the teacher's outputs on the
dense canonical mesh (every vertex; its wflw98 layout is a subset): 3D canonical positions and
2D image positions. The teacher runs once per training image on its own framing; augmentation
(similarity jitter, flips, loose framings for the no-box localiser, photometric changes) maps
its 2D outputs with the same affine as the image, and its canonical 3D outputs are invariant
to it (mirrored under a flip). Crops without a face teach the face score.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from edge_landmarks.canonical import CanonicalFace
from edge_landmarks.data import FaceSample, load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.data.ytf68 import LABEL_X_OFFSET
from edge_landmarks.geometry import affine_scale, apply_affine, box_to_input_affine, tight_box
from edge_landmarks.metrics import landmark_report, nme_per_face

from . import losses
from .augment import AugmentConfig, draw_rotation, flip_source, photometric, to_tensor_layout
from .checkpoint import canonical_to_dict, load_checkpoint
from .config import DistillConfig, StudentConfig
from .models.student import HEAD_POSE_FIELDS, Student, feature_grid
from .predict import TeacherPredictor
from .loop import epoch_loader, optimisation, record_epoch, resume_from, run_epoch
from .train import DEFAULT_DATA, deepen_weights

STUDENT_VERSION = 1
TARGETS_VERSION = 2  # 2: + the teacher's head rotation in image axes
MIRROR = np.diag([-1.0, 1.0, 1.0])  # canonical x (the subject's left) under a flip


def teacher_targets(teacher_path: Path, samples: list[FaceSample], images: list[np.ndarray], cache_dir: Path) -> dict:
    """The teacher's dense outputs on each face (its own framing from the tight box), cached
    on disk keyed by the teacher file and the sample list: ``canonical`` (F, V, 3) mm and
    ``landmarks`` (F, V, 2) image pixels, float16; ``rotation`` (F, 3, 3), the head rotation in
    the image's camera axes."""
    names = "|".join(s.name for s in samples)
    key = hashlib.sha256(Path(teacher_path).read_bytes() + f"{TARGETS_VERSION}|{names}".encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"teacher_targets_{key}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    model, face, _ = load_checkpoint(teacher_path)
    pred = TeacherPredictor(model, face)
    pred.set_layout(np.arange(len(face.vertices)))
    can, lms, rot = [], [], []
    for i in tqdm(range(0, len(samples), 32), desc="teacher targets", mininterval=5):
        out = pred.predict(images[i:i + 32], [tight_box(s.landmarks) for s in samples[i:i + 32]])
        can.append(out.canonical.astype(np.float16))
        lms.append(out.landmarks.astype(np.float16))
        rot.append(out.rotation.astype(np.float32))
    res = {"canonical": np.concatenate(can), "landmarks": np.concatenate(lms), "rotation": np.concatenate(rot)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **res)
    return res


def synthetic_targets(n: int, size: int = 160) -> tuple[list[FaceSample], list[np.ndarray], dict]:
    """Rendered faces (seeds 0 .. n-1) as distillation samples whose dense targets are their exact
    mesh vertices: (samples, images, {"canonical": (n, V, 3) mm, "landmarks": (n, V, 2) px,
    "rotation": (n, 3, 3)})."""
    from .synthetic.generate import iter_samples

    c2c = np.diag([1.0, -1.0, -1.0])
    samples, images, can, lms, rot = [], [], [], [], []
    for k, r in enumerate(tqdm(iter_samples(range(n), size), total=n, desc="render synthetic faces", mininterval=5)):
        samples.append(FaceSample(Path(f"synthetic/{k}"), r.landmarks_2d("ibug68").astype(np.float32), "ibug68",
                                  f"synthetic_{k:06d}", "synthetic"))
        images.append(r.image)
        can.append((((r.vertices_3d - r.translation) @ r.rotation) @ c2c).astype(np.float16))
        lms.append(r.vertices_2d.astype(np.float16))
        rot.append(r.rotation.astype(np.float32))
    return samples, images, {"canonical": np.stack(can), "landmarks": np.stack(lms), "rotation": np.stack(rot)}


class DistillDataset(Dataset):
    """Augmented student inputs with ground-truth and teacher targets, in input pixels.

    Yields ``image`` (3, S, S), ``gt`` (68, 2), ``teacher_2d`` (V, 2), ``teacher_3d`` (V, 3),
    ``rotation`` (3, 3) the head rotation in the crop's axes (turned and mirrored with it),
    ``face`` (1 for a face crop, 0 for a crop without a face)."""

    def __init__(self, samples, images, targets: dict, face: CanonicalFace, cfg: DistillConfig, flip_perm: np.ndarray,
                 real: np.ndarray | None = None):
        self.samples, self.images, self.targets = samples, images, targets
        self.real = np.ones(len(samples), bool) if real is None else np.asarray(real, bool)
        self.mirror = np.asarray(face.mirror, dtype=np.int64)
        self.flip_perm = np.asarray(flip_perm)
        self.cfg, self.spec = cfg, cfg.student.input
        self.aug = AugmentConfig(occluder_prob=0.3, label_x_offset=LABEL_X_OFFSET)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def framing(self, rng: np.random.Generator) -> tuple[dict, bool]:
        cfg = self.cfg
        u = rng.random()
        if u < cfg.negative_prob:  # no face: beside it, a small part of it, or a larger part off its centre
            ang = rng.uniform(0, 2 * np.pi)
            kind = rng.random()
            if kind < 0.4:
                far = rng.uniform(1.3, 2.0)
                return {"shift": (far * np.cos(ang), far * np.sin(ang)), "scale": rng.uniform(0.8, 1.5)}, False
            if kind < 0.7:
                return {"shift": tuple(rng.uniform(-0.3, 0.3, 2)), "scale": rng.uniform(0.15, 0.3)}, False
            off = rng.uniform(0.25, 0.45)
            return {"shift": (off * np.cos(ang), off * np.sin(ang)), "scale": rng.uniform(0.3, 0.5)}, False
        rot = draw_rotation(rng, cfg.max_rotation, cfg.rotation_uniform_prob, cfg.rotation_std)
        if u < cfg.negative_prob + cfg.loose_prob:
            return {"shift": tuple(rng.uniform(-0.35, 0.35, 2)), "scale": float(np.exp(rng.uniform(np.log(1.3), np.log(2.6)))),
                    "rotation_deg": 0.5 * rot}, True
        return {"shift": tuple(rng.uniform(-0.1, 0.1, 2)), "scale": float(np.exp(rng.uniform(np.log(0.85), np.log(1.2)))),
                "rotation_deg": rot}, True

    def __getitem__(self, i: int) -> dict:
        cv2.setNumThreads(1)
        cfg = self.cfg
        rng = np.random.default_rng([self.cfg.seed, self.epoch, i])
        s = self.samples[i]
        jitter, is_face = self.framing(rng)
        flip = bool(rng.random() < 0.5)
        m = box_to_input_affine(tight_box(s.landmarks), self.spec.size, self.spec.enlarge, flip=flip, **jitter)
        border = cv2.BORDER_REPLICATE if rng.random() < 0.5 else cv2.BORDER_CONSTANT
        img = cv2.warpAffine(self.images[i], m, (self.spec.size, self.spec.size), flags=cv2.INTER_LINEAR, borderMode=border)
        if not is_face and rng.random() < cfg.textureless_negatives:
            img = textureless(img.shape, rng)
            if rng.random() < 0.5:
                img = photometric(img, rng, self.aug)
        else:
            img = photometric(img, rng, self.aug)
        offset = self.aug.label_x_offset if self.real[i] else 0.0
        gt = apply_affine(m, flip_source(s.landmarks, flip, offset))
        t2d = apply_affine(m, flip_source(self.targets["landmarks"][i], flip, offset))
        t3d = self.targets["canonical"][i].astype(np.float32)
        turn = np.eye(3)
        turn[:2, :2] = m[:, :2] / affine_scale(m)
        rot = turn @ self.targets["rotation"][i]
        if flip:
            gt, t2d = gt[self.flip_perm], t2d[self.mirror]
            t3d = t3d[self.mirror] * np.array([-1.0, 1.0, 1.0], np.float32)
            rot = rot @ MIRROR
        return {
            "image": torch.from_numpy(to_tensor_layout(img, self.spec.mean, self.spec.std)),
            "gt": torch.from_numpy(gt.astype(np.float32)),
            "teacher_2d": torch.from_numpy(t2d.astype(np.float32)),
            "teacher_3d": torch.from_numpy(t3d),
            "rotation": torch.from_numpy(rot.astype(np.float32)),
            "face": torch.tensor(float(is_face)),
            "real": torch.tensor(float(self.real[i])),
        }


def textureless(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A crop with no face and little structure (flat colour, noise or a smooth gradient), which
    the face score must reject: blank walls and sensor noise are what a no-box call often sees."""
    kind = rng.random()
    if kind < 0.4:
        return np.full(shape, rng.integers(0, 256, 3), np.uint8)
    if kind < 0.7:
        return rng.integers(0, 256, shape).astype(np.uint8)
    h, w = shape[:2]
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.clip(np.linspace(0, 1, w)[None, :, None] * np.cos(rng.uniform(0, np.pi)) +
                np.linspace(0, 1, h)[:, None, None] * np.sin(rng.uniform(0, np.pi)), 0, 1)
    return (a + (b - a) * t).astype(np.uint8)


def init_student(cfg: StudentConfig, face: CanonicalFace, teacher_canonical: np.ndarray) -> Student:
    """A student whose dense basis starts as the principal components of the teacher's
    canonical shapes (unit-variance coefficients) and whose layout rows start from the dense rows."""
    x = teacher_canonical.astype(np.float64).reshape(len(teacher_canonical), -1)
    mean = x.mean(0)
    _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = cfg.num_coeffs
    basis = (vt[:k] * (sv[:k, None] / math.sqrt(len(x)))).reshape(k, -1, 3)
    ids = {n: torch.as_tensor(face.layout_vertices(n), dtype=torch.long) for n in face.layouts}
    model = Student(cfg, torch.as_tensor(mean.reshape(-1, 3), dtype=torch.float32), ids)
    with torch.no_grad():
        model.dense_basis.copy_(torch.as_tensor(basis, dtype=torch.float32))
        for n, i in ids.items():
            model.layout_basis[n].copy_(model.dense_basis[:, i])
    return model


def warm_start_student(model: Student, path: str | Path) -> None:
    """Load a previous student's validated-best weights into ``model`` (a further, shorter schedule).

    ``model`` may be a grown copy of that student (``_check_growable``): more blocks per stage,
    each added block starting as the identity (its last BatchNorm scale zeroed); wider
    expansions and a wider reduction layer, whose added channels start with zero outgoing
    weights. Either way training resumes from the same function, with more capacity."""
    src, _, _ = load_student(path)
    old, new = src.cfg, model.cfg
    _check_growable(old, new, path)
    source = src.state_dict()
    if new.pose_head and not old.pose_head:  # the pose head starts as the rotation the landmarks project with
        k = old.num_coeffs
        for name in ("head.weight", "head.bias"):
            source[name] = torch.cat([source[name], source[name][k:k + HEAD_POSE_FIELDS]])
    refine = {k: getattr(new, k) for k in ("refine_channels", "refine_tap", "refine_hidden", "refine_scale")}
    if replace(old, input=new.input, pose_head=new.pose_head, **refine) == new:  # same layers (at most a finer input)
        missing, unexpected = model.load_state_dict(source, strict=False)
        if unexpected or any(not k.startswith(("backbone.refine.", "readout.")) for k in missing):
            raise ValueError(f"{path}: weights do not fit this student (missing {missing}, unexpected {unexpected})")
        return
    weights, added = deepen_weights(source, tuple(s[1] for s in old.stages), tuple(s[1] for s in new.stages), stem=1)
    target = model.state_dict()
    with torch.no_grad():
        for key, value in weights.items():
            t = target[key]
            t[tuple(slice(0, n) for n in value.shape)] = value
            if t.dim() >= 2 and t.shape[1] > value.shape[1]:
                t[:, value.shape[1]:] = 0  # inputs from added channels
        model.load_state_dict(target)
        for name in added:
            model.get_submodule(name).body[-1][1].weight.zero_()
    print(f"warm start from {path}: grown from stages {list(old.stages)}, reduce {old.reduce}, input {old.input.size} "
          f"({len(added)} identity blocks added)")


def _check_growable(old: StudentConfig, new: StudentConfig, path) -> None:
    """``new`` keeps ``old``'s input framing, features, head, stage widths and strides, with as
    many or more blocks, expansion and reduction channels (an expansion of 1, no expansion layer,
    stays 1). The input side may grow if the last feature map keeps its size: every weight
    then fits, and the network sees the same framing at a finer sampling (a near copy of the
    function, not an exact one, since each layer's receptive field covers less of the face). A
    pose head (``pose_head``) may be added, not removed."""
    same = [f for f in ("features", "num_coeffs", "depth0", "focal0") if getattr(old, f) != getattr(new, f)]
    if old.pose_head and not new.pose_head:
        same.append("pose_head")
    if replace(old.input, size=new.input.size) != new.input or new.input.size < old.input.size \
            or feature_grid(old) != feature_grid(new):
        same.append("input")
    stages_ok = len(old.stages) == len(new.stages) and all(
        co == cn and so == sn and bn >= bo and en >= eo and (eo == 1) == (en == 1)
        for (co, bo, so, eo), (cn, bn, sn, en) in zip(old.stages, new.stages))
    if same or not stages_ok or new.reduce < old.reduce:
        raise ValueError(f"{path}: this recipe's student is not a grown copy of that checkpoint's "
                         f"(differs in {same or 'stages or reduce'}); only more blocks, expansion and reduction channels can be added")


def compute_loss(model: Student, batch: dict, face_t: dict, cfg: DistillConfig, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
    v = face_t["normals"].shape[0]
    dense_ids = torch.randperm(v, generator=gen)[: cfg.dense_points]
    wflw = face_t["wflw98"]
    sets = {
        "ibug68": (*model.layout_rows("ibug68"), face_t["normals"][face_t["ibug68"]]),
        "wflw98": (*model.layout_rows("wflw98"), face_t["normals"][wflw]),
        "dense": (*model.dense_rows(dense_ids), face_t["normals"][dense_ids]),
    }
    out = model(batch["image"], sets)
    pos = batch["face"] > 0.5
    zero = batch["image"].new_zeros(())
    scale3d = 10.0

    def masked(x):
        return x[pos] if pos.any() else None

    parts = {"score": torch.nn.functional.binary_cross_entropy_with_logits(out["ibug68"]["score_logit"], batch["face"])}
    if pos.any():
        ib, wf, de = out["ibug68"], out["wflw98"], out["dense"]
        real = pos & (batch["real"] > 0.5)  # rendered faces: exact dense targets, but not ytf68's 68-point convention
        parts["landmarks"] = losses.wing_loss(ib["landmarks"][real], batch["gt"][real]) if real.any() else zero
        t2d, t3d = batch["teacher_2d"], batch["teacher_3d"]
        parts["teacher_2d"] = 0.5 * (
            (masked(de["landmarks"]) - masked(t2d[:, dense_ids])).norm(dim=-1).mean()
            + (masked(wf["landmarks"]) - masked(t2d[:, wflw])).norm(dim=-1).mean())
        parts["teacher_3d"] = ((masked(de["canonical"]) - masked(t3d[:, dense_ids])).abs().mean()
                               + (masked(wf["canonical"]) - masked(t3d[:, wflw])).abs().mean()
                               + (masked(ib["canonical"]) - masked(t3d[:, face_t["ibug68"]])).abs().mean()) / scale3d
        parts["focal"] = losses.focal_prior(ib["log_focal"])
        parts["rotation"] = (masked(ib["rotation"]) - masked(batch["rotation"])).pow(2).sum((1, 2)).sqrt().mean()
    else:
        parts.update(landmarks=zero, teacher_2d=zero, teacher_3d=zero, focal=zero, rotation=zero)
    w = {"landmarks": cfg.w_landmarks, "teacher_2d": cfg.w_teacher_2d, "teacher_3d": cfg.w_teacher_3d,
         "score": cfg.w_score, "focal": cfg.w_focal_prior, "rotation": cfg.w_rotation}
    total = sum(w[k] * parts[k] for k in w)
    return total, {k: float(v.detach()) for k, v in parts.items()}


@torch.no_grad()
def predict_landmarks(model: Student, face_t: dict, images: list[np.ndarray], boxes: list[np.ndarray], layout: str = "ibug68") -> np.ndarray:
    """Student landmarks (F, N, 2) in image pixels, each face framed from its box as the runtime does."""
    from edge_landmarks.geometry import invert_affine, warp_to_input

    spec = model.cfg.input
    xs, ms = [], []
    for img, b in zip(images, boxes):
        m = box_to_input_affine(b, spec.size, spec.enlarge)
        xs.append(to_tensor_layout(warp_to_input(img, m, spec.size), spec.mean, spec.std))
        ms.append(m)
    model.eval()
    rows = (*model.layout_rows(layout), face_t["normals"][face_t[layout]])
    lm = []
    for i in range(0, len(xs), 128):
        lm.append(model(torch.as_tensor(np.stack(xs[i:i + 128])), {"x": rows})["x"]["landmarks"].numpy())
    lm = np.concatenate(lm)
    return np.stack([apply_affine(invert_affine(m), p) for m, p in zip(ms, lm)]).astype(np.float32)


def save_student(path: Path, model: Student, face: CanonicalFace, **state) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"version": STUDENT_VERSION, "kind": "student", "config": model.cfg, "model": model.state_dict(),
                "canonical": canonical_to_dict(face), **state}, tmp)
    tmp.replace(path)


def load_student(path: str | Path) -> tuple[Student, CanonicalFace, dict]:
    """(student in eval mode with its validated-best weights, EMA or live, canonical face, checkpoint dict)."""
    from edge_landmarks.errors import BundleError

    path = Path(path)
    if not path.is_file():
        raise BundleError(f"student checkpoint {path} not found")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or ck.get("kind") != "student" or ck.get("version") != STUDENT_VERSION:
        raise BundleError(f"{path} is not a version-{STUDENT_VERSION} student checkpoint")
    c = ck["canonical"]
    face = CanonicalFace(np.asarray(c["vertices"]), np.asarray(c["triangles"]), np.asarray(c["normals"]),
                         np.asarray(c["mirror"]), {k: np.asarray(v) for k, v in c["layouts"].items()})
    cfg = ck["config"]
    cfg = cfg if isinstance(cfg, StudentConfig) else StudentConfig.from_dict(cfg)
    weights = ck[ck.get("best_weights", "ema" if "ema" in ck else "model")]
    ids = {n: torch.as_tensor(face.layout_vertices(n), dtype=torch.long) for n in face.layouts}
    model = Student(cfg, torch.zeros(len(face.vertices), 3), ids)
    model.load_state_dict({k: v.float() for k, v in weights.items()})
    return model.eval(), face, ck


def release_student(src: str | Path, dst: str | Path, weights: str | None = None) -> Path:
    """Strip a distillation checkpoint to the shipped student: one set of weights (``weights``:
    "model" or "ema"; default the validated-better one), config, canonical face, validation."""
    ck = torch.load(src, map_location="cpu", weights_only=False)
    w = weights or ck.get("best_weights", "ema")
    slim = {k: ck[k] for k in ("version", "kind", "config", "canonical", "epoch", "distill_config") if k in ck}
    slim["val"] = ck.get("val") if w == ck.get("best_weights") else None
    slim["model"] = {k: (v.half() if v.is_floating_point() and v.numel() > 10000 else v) for k, v in ck[w].items()}
    slim["best_weights"] = "model"
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, dst)
    return dst


def face_tensors(face: CanonicalFace) -> dict:
    d = {n: torch.as_tensor(face.layout_vertices(n), dtype=torch.long) for n in face.layouts}
    d["normals"] = torch.as_tensor(face.normals, dtype=torch.float32)
    return d


def distill(cfg: DistillConfig, out_dir: str | Path, data: str | Path = DEFAULT_DATA, resume: bool = True,
            limit: int | None = None) -> dict:
    """Train a student; writes ``last.pt``, ``best.pt`` (EMA weights), ``history.jsonl``, ``config.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    teacher = Path(cfg.teacher)
    if not teacher.is_absolute() and not teacher.is_file():
        teacher = Path(__file__).resolve().parents[1] / teacher
    _, face, _ = load_checkpoint(teacher)
    train_s, val_s = train_val(load_ytf68(data))
    if limit:
        train_s, val_s = train_s[:limit], val_s[: max(8, limit // 4)]
    train_images = [s.load_image() for s in train_s]
    val_images = [s.load_image() for s in val_s]
    targets = teacher_targets(teacher, train_s, train_images, out_dir)
    real = np.ones(len(train_s), bool)
    if cfg.synthetic_faces:
        syn_s, syn_images, syn_targets = synthetic_targets(cfg.synthetic_faces)
        train_s, train_images = train_s + syn_s, train_images + syn_images
        targets = {k: np.concatenate([targets[k], syn_targets[k]]) for k in targets}
        real = np.concatenate([real, np.zeros(len(syn_s), bool)])
    ds = DistillDataset(train_s, train_images, targets, face, cfg, face.flip_permutation("ibug68"), real)
    model = init_student(cfg.student, face, targets["canonical"])
    if cfg.init:
        warm_start_student(model, cfg.init)
    face_t = face_tensors(face)
    ema, opt, sched = optimisation(model, list(model.parameters()), cfg, math.ceil(len(ds) / cfg.batch_size))
    last = out_dir / "last.pt"
    start, best = resume_from(last, model, ema, opt, sched) if resume else (0, float("inf"))
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    gen = torch.Generator().manual_seed(cfg.seed)
    gt_val = np.stack([s.landmarks for s in val_s])
    boxes_val = [tight_box(s.landmarks) for s in val_s]
    summary: dict = {}
    for epoch in range(start, cfg.epochs):
        ds.set_epoch(epoch)
        t0 = time.time()
        run = run_epoch(model, epoch_loader(ds, cfg, epoch), lambda b: compute_loss(model, b, face_t, cfg, gen),
                        list(model.parameters()), opt, sched, ema, f"epoch {epoch + 1}/{cfg.epochs}")
        # Both weights are validated: averaged weights with averaged BatchNorm statistics can
        # trail the live model badly on this depthwise network, so the better one is kept.
        reps = {}
        for name, net in (("model", model), ("ema", ema.module)):
            pred = predict_landmarks(net, face_t, val_images, boxes_val)
            reps[name] = landmark_report(nme_per_face(pred, gt_val), [s.name for s in val_s]).to_dict()
            reps[name].pop("per_face")
        weights = min(reps, key=lambda k: reps[k]["nme_mean"])
        rep = reps[weights]
        summary = {"epoch": epoch + 1, "time_s": round(time.time() - t0, 1), "lr": sched.get_last_lr()[0], "train": run,
                   "val": rep, "val_weights": weights, "val_other": reps["ema" if weights == "model" else "model"]}
        record_epoch(out_dir, summary, cfg.epochs, weights)
        state = {"ema": ema.module.state_dict(), "ema_n": int(ema.n_averaged), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "epoch": epoch, "best": min(best, rep["nme_mean"]), "val": rep,
                 "best_weights": weights, "distill_config": cfg.to_dict()}
        save_student(last, model, face, **state)
        if rep["nme_mean"] < best:
            best = rep["nme_mean"]
            save_student(out_dir / "best.pt", model, face, **state)
    return summary
