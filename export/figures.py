"""Figure of what the teacher's 3D output means: on validation faces (frontal and turned), the
whole canonical mesh queried densely and projected into the image, with the 68 landmarks, and
the predicted 3D landmarks seen from the side.

    python -m export.figures --model runs/teacher/best.pt --out docs/teacher_3d.png
"""
from __future__ import annotations

import argparse

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edge_landmarks.data import load_ytf68  # noqa: E402
from edge_landmarks.data.split import train_val  # noqa: E402
from edge_landmarks.evaluate import load_teacher_predictor  # noqa: E402
from edge_landmarks.geometry import tight_box  # noqa: E402
from edge_landmarks.paths import shared_data_dir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model")
    ap.add_argument("--out", default="docs/teacher_3d.png")
    ap.add_argument("--faces", type=int, default=6)
    args = ap.parse_args()
    _, val = train_val(load_ytf68(shared_data_dir() / "ytf68"))
    pred = load_teacher_predictor(args.model)
    images = [s.load_image() for s in val]
    boxes = [tight_box(s.landmarks) for s in val]
    sparse = pred.predict(images, boxes)
    yaw = sparse.pose[:, 0]
    order = np.argsort(yaw)
    picks = list(dict.fromkeys(order[np.linspace(0, len(order) - 1, args.faces).round().astype(int)].tolist()))
    face = pred.face
    pred.set_layout(np.arange(len(face.vertices)))
    dense = pred.predict([images[i] for i in picks], [boxes[i] for i in picks])
    pred.set_layout("ibug68")
    fig, axes = plt.subplots(2, len(picks), figsize=(3 * len(picks), 6.4))
    tris = face.triangles[::3]
    for col, i in enumerate(picks):
        img = cv2.cvtColor(images[i], cv2.COLOR_BGR2RGB)
        ax = axes[0, col]
        ax.imshow(img)
        v2 = dense.landmarks[col]
        vis = dense.visibility[col]
        keep = vis[tris].min(1) > 0.5
        ax.triplot(v2[:, 0], v2[:, 1], tris[keep], lw=0.25, color="cyan", alpha=0.6)
        lm = sparse.landmarks[i]
        ax.scatter(lm[:, 0], lm[:, 1], s=4, c=np.where(sparse.visibility[i] > 0.5, "lime", "red"))
        y, p, r = sparse.pose[i]
        ax.set_title(f"yaw {y:+.0f} pitch {p:+.0f} roll {r:+.0f}", fontsize=8)
        ax.axis("off")
        ax = axes[1, col]
        cam = sparse.camera[i]
        ax.scatter(cam[:, 2], -cam[:, 1], s=4, c="k")
        ax.scatter(dense.camera[col][::7, 2], -dense.camera[col][::7, 1], s=0.5, c="c", alpha=0.4)
        ax.set_aspect("equal")
        ax.set_xlabel("depth z (mm)", fontsize=7)
        ax.set_title("side view, camera space", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle("Teacher on validation people: dense canonical mesh (cyan, hidden triangles culled) and "
                 "68 landmarks (green visible / red hidden)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
