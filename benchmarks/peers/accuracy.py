"""Accuracy of the peers on the ytf68 validation people, each face given the tight box of its
ground-truth landmarks (the protocol of ``edge-landmarks eval``).

    python -m benchmarks.peers.accuracy [--peers mediapipe-facemesh dlib68] [--json out.json]

MediaPipe's mesh vertices follow their own landmark definition, not ytf68's, so it is also
scored "offset-corrected": its mean per-point residual, in the frame of the face box, is
estimated on the training people and added to its predictions on the validation people.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from edge_landmarks.data import load_ytf68
from edge_landmarks.data.split import train_val
from edge_landmarks.geometry import tight_box
from edge_landmarks.layouts import layout_info
from edge_landmarks.metrics import landmark_report, nme_per_face
from edge_landmarks.paths import shared_data_dir

from . import PEERS
from .mediapipe_facemesh import IBUG51


def evaluate_peer(peer, samples: Sequence, boxes: Sequence[np.ndarray], progress: str | None = None) -> np.ndarray:
    """(F, 68, 2) pixel predictions of ``peer.landmarks68(image, box)`` for each sample and box."""
    it = zip(samples, boxes)
    if progress:
        it = tqdm(it, total=len(samples), desc=progress, leave=False)
    return np.stack([peer.landmarks68(s.load_image(), b) for s, b in it])


def nme_subset(pred: np.ndarray, gt: np.ndarray, points: Sequence[int]) -> np.ndarray:
    """Per-face NME over ``points`` only, still normalised by the iBUG-68 outer-eye-corner distance."""
    i, j = layout_info("ibug68").outer_eye_corners
    iod = np.linalg.norm(gt[:, i] - gt[:, j], axis=-1)
    return np.linalg.norm(pred[:, points] - gt[:, points], axis=-1).mean(-1) / iod


def _box_scale(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2:] - boxes[:, :2])[:, None, :]


def fit_point_offset(pred: np.ndarray, gt: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, 2) mean residual ``gt - pred`` per point, in box widths (x) and heights (y)."""
    return ((gt - pred) / _box_scale(np.asarray(boxes, np.float64))).mean(0)


def apply_point_offset(pred: np.ndarray, boxes: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Predictions moved by a per-point offset from ``fit_point_offset``, scaled to each box."""
    return pred + offset[None] * _box_scale(np.asarray(boxes, np.float64))


def score(pred: np.ndarray, gt: np.ndarray, names: list[str]) -> dict[str, dict]:
    """Reports (without per-face rows) for all 68 points and for the 51 inner points."""
    out = {}
    for key, nmes in (("68", nme_per_face(pred, gt)), ("51", nme_subset(pred, gt, IBUG51))):
        rep = landmark_report(nmes, names).to_dict()
        rep.pop("per_face")
        out[key] = rep
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(shared_data_dir() / "ytf68"))
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    ap.add_argument("--json", help="write the table here too")
    args = ap.parse_args()

    train, val = train_val(load_ytf68(args.data))
    val_boxes = np.stack([tight_box(s.landmarks) for s in val]).astype(np.float64)
    val_gt = np.stack([s.landmarks for s in val]).astype(np.float64)
    names = [s.name for s in val]
    rows: dict[str, dict] = {}
    for key in args.peers:
        peer = PEERS[key].cls()
        pred = evaluate_peer(peer, val, val_boxes, progress=f"{key} val")
        rows[key] = score(pred, val_gt, names)
        if key == "mediapipe-facemesh":
            tr_boxes = np.stack([tight_box(s.landmarks) for s in train]).astype(np.float64)
            tr_gt = np.stack([s.landmarks for s in train]).astype(np.float64)
            tr_pred = evaluate_peer(peer, train, tr_boxes, progress=f"{key} train")
            offset = fit_point_offset(tr_pred, tr_gt, tr_boxes)
            rows[f"{key} offset-corrected"] = score(apply_point_offset(pred, val_boxes, offset), val_gt, names)

    print(f"ytf68 validation people: {len(val)} faces, tight ground-truth boxes; NME by outer-eye-corner distance")
    print(f"{'peer':38s} {'points':>6s} {'NME mean':>9s} {'median':>7s} {'FR@10':>7s} {'AUC@10':>7s}")
    for key, by_points in rows.items():
        for pts, r in by_points.items():
            print(f"{key:38s} {pts:>6s} {100 * r['nme_mean']:8.2f}% {100 * r['nme_median']:6.2f}% "
                  f"{100 * r['fr10']:6.2f}% {r['auc10']:7.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
