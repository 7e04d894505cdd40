"""Does the spatial transformer earn its place? NME on the validation people with the face
framing shifted by up to 20 % and scaled 0.7-1.4x of the face size, relative to centred framing.

    python benchmarks/stn_robustness.py --model runs/teacher/best.pt [--json out.json]

Run it on a teacher trained with ``use_stn: false`` too, to compare the two.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.evaluate import load_teacher_predictor
from edge_landmarks.geometry import tight_box
from edge_landmarks.metrics import nme_per_face
from edge_landmarks.paths import shared_data_dir


def perturbations(n: int, per_face: int, seed: int = 0) -> list[list[tuple]]:
    """Deterministic (shift, scale) framings: shift uniform in [-0.2, 0.2] of the face size per
    axis, scale log-uniform in [0.7, 1.4]."""
    rng = np.random.default_rng(seed)
    return [[(tuple(rng.uniform(-0.2, 0.2, 2)), float(np.exp(rng.uniform(np.log(0.7), np.log(1.4)))))
             for _ in range(per_face)] for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="teacher checkpoint; default: the shipped teacher")
    ap.add_argument("--data", default=str(shared_data_dir() / "ytf68"))
    ap.add_argument("--per-face", type=int, default=4)
    ap.add_argument("--json")
    args = ap.parse_args()
    _, val = train_val(load_ytf68(args.data))
    pred = load_teacher_predictor(args.model)
    images = [s.load_image() for s in val]
    boxes = [tight_box(s.landmarks) for s in val]
    gt = np.stack([s.landmarks for s in val])
    centred = nme_per_face(pred.predict(images, boxes).landmarks, gt)
    pert = perturbations(len(val), args.per_face)
    moved = np.stack([nme_per_face(pred.predict(images, boxes, [p[k] for p in pert]).landmarks, gt) for k in range(args.per_face)])
    out = {
        "model": args.model or "shipped teacher",
        "use_stn": bool(pred.model.cfg.use_stn),
        "n_faces": len(val),
        "nme_centred": float(centred.mean()),
        "nme_perturbed": float(moved.mean()),
        "relative_increase": float(moved.mean() / centred.mean() - 1),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
