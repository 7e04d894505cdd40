"""Does the student's linear shape basis limit its accuracy? The teacher's 68 points (and the
ground truth) on the validation people, refitted per face through a K-coefficient basis (the
principal components of the teacher's canonical shapes on the training people) and the
student's pose and projection; NME of each refit against the ground truth.

    python benchmarks/shape_basis.py [--coeffs 16 32 64 128] [--json out.json]

If the teacher's refit scores as the teacher does, a K-coefficient student can represent what
it is distilled from, and its gap to the teacher is in the network (docs/DEPLOYED.md).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
import torch

from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.decode import POSE_FIELDS
from edge_landmarks.geometry import apply_affine, box_to_input_affine, tight_box
from edge_landmarks.paths import shared_data_dir
from export.checkpoint import load_checkpoint
from export.distill import face_tensors, load_student
from export.predict import TeacherPredictor


def teacher_outputs(pred: TeacherPredictor, samples, batch: int = 64):
    """The teacher on each face framed from its tight box: (canonical (F, 68, 3), landmarks (F, 68, 2))."""
    can, lms = [], []
    for i in range(0, len(samples), batch):
        part = samples[i:i + batch]
        out = pred.predict([s.load_image() for s in part], [tight_box(s.landmarks) for s in part])
        can.append(out.canonical)
        lms.append(out.landmarks)
    return np.concatenate(can), np.concatenate(lms)


def refit_nme(student, normals, mean, basis, targets, gt, steps: int = 800) -> float:
    """Per face, the coefficients and pose that bring the student's decoded points closest to
    ``targets`` (input-crop pixels); mean NME of those points against ``gt``, percent."""
    k, n = basis.shape[0], len(targets)
    raw = torch.nn.Parameter(torch.zeros(n, k + POSE_FIELDS))
    with torch.no_grad():
        raw[:, k] = raw[:, k + 4] = 1.0  # identity rotation (6D), centred, prior depth and focal
    # one rotation fitted per face: a pose head (the reported pose) plays no part in the points
    student.cfg, student.head = replace(student.cfg, num_coeffs=k, pose_head=False), _Fixed(raw)
    iod = (gt[:, 36] - gt[:, 45]).norm(dim=-1)
    opt = torch.optim.Adam([raw], lr=0.02)
    for _ in range(steps):
        lm = student.decode(None, mean, basis, normals)["landmarks"]
        loss = ((lm - targets).norm(dim=-1).mean(1) / iod).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        lm = student.decode(None, mean, basis, normals)["landmarks"]
        return 100 * float(((lm - gt).norm(dim=-1).mean(1) / iod).mean())


class _Fixed(torch.nn.Module):
    """A head that returns the fitted raw outputs whatever the features."""

    def __init__(self, raw: torch.nn.Parameter):
        super().__init__()
        self.raw = raw

    def forward(self, _features):
        return self.raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", default="export/checkpoints/teacher.pt")
    ap.add_argument("--student", default="export/checkpoints/student.pt")
    ap.add_argument("--data", default=str(shared_data_dir() / "ytf68"))
    ap.add_argument("--coeffs", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.manual_seed(0)
    train, val = train_val(load_ytf68(args.data))
    teacher, tface, _ = load_checkpoint(args.teacher)
    pred = TeacherPredictor(teacher, tface)
    train_can, _ = teacher_outputs(pred, train)
    _, val_lm = teacher_outputs(pred, val)
    student, face, _ = load_student(args.student)
    ft = face_tensors(face)
    normals = ft["normals"][ft["ibug68"]]
    spec = student.cfg.input
    to_crop = [box_to_input_affine(tight_box(s.landmarks), spec.size, spec.enlarge) for s in val]
    gt = torch.as_tensor(np.stack([apply_affine(m, s.landmarks) for m, s in zip(to_crop, val)]), dtype=torch.float32)
    taught = torch.as_tensor(np.stack([apply_affine(m, p) for m, p in zip(to_crop, val_lm)]), dtype=torch.float32)
    x = train_can.reshape(len(train_can), -1).astype(np.float64)
    mu = x.mean(0)
    _, sv, vt = np.linalg.svd(x - mu, full_matrices=False)
    mean = torch.as_tensor(mu.reshape(-1, 3), dtype=torch.float32)
    iod = (gt[:, 36] - gt[:, 45]).norm(dim=-1)
    rows = {"teacher": 100 * float(((taught - gt).norm(dim=-1).mean(1) / iod).mean()), "refits": []}
    print(f"teacher as predicted: {rows['teacher']:.3f} % NME ({len(val)} validation faces)")
    for k in args.coeffs:
        basis = torch.as_tensor((vt[:k] * (sv[:k, None] / np.sqrt(len(x)))).reshape(k, -1, 3), dtype=torch.float32)
        r = {"coeffs": k, "teacher_refit": refit_nme(student, normals, mean, basis, taught, gt),
             "ground_truth_refit": refit_nme(student, normals, mean, basis, gt, gt)}
        rows["refits"].append(r)
        print(f"{k:4d} coefficients: teacher refit {r['teacher_refit']:.3f} %, ground truth refit {r['ground_truth_refit']:.3f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
