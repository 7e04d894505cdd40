"""Contact sheet of synthetic faces with their 68 landmarks, for eyeballing the generator.

``python -m export.synthetic.sheet --out docs/synthetic_contact_sheet.png``
Points: filled green = visible, red ring = hidden by the head itself, yellow ring = under an
occluder. Each tile is captioned with the ground-truth yaw.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from .generate import render_batch
from .sample import SyntheticSample
from .scene import repose, sample_scene

_GREEN, _RED, _YELLOW = (60, 220, 60), (40, 40, 230), (0, 220, 255)


def draw_landmarks(sample: SyntheticSample, layout: str = "ibug68") -> np.ndarray:
    """Copy of the sample's image (BGR) with its landmarks drawn by visibility."""
    img = sample.image.copy()
    ids = sample.ids(layout)
    pts = np.round(sample.vertices_2d[ids] * 4).astype(int)
    for (x, y), own, free in zip(pts.tolist(), sample.self_visible[ids], sample.unoccluded[ids]):
        if own and free:
            cv2.circle(img, (x, y), 5, _GREEN, -1, cv2.LINE_AA, 2)
        else:
            cv2.circle(img, (x, y), 6, _RED if not own else _YELLOW, 1, cv2.LINE_AA, 2)
    yaw = sample.euler[0]
    cv2.putText(img, f"yaw {yaw:+.0f}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def contact_sheet(n: int = 24, seed: int = 0, size: int = 144, cols: int = 6) -> np.ndarray:
    """(rows * size, cols * size, 3) uint8 BGR grid of ``n`` samples of seeds seed..seed+n-1,
    re-posed to yaws evenly spread over [-90, 90] (pitch and roll as sampled)."""
    scenes = []
    for i, yaw in enumerate(np.linspace(-90, 90, n)):
        p = sample_scene(seed + i)
        scenes.append(repose(p, float(yaw), p.pose.pitch, p.pose.roll))
    tiles = [draw_landmarks(s) for s in render_batch(scenes, size)]
    rows = -(-n // cols)
    tiles += [np.zeros_like(tiles[0])] * (rows * cols - n)
    return np.vstack([np.hstack(tiles[r * cols:(r + 1) * cols]) for r in range(rows)])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/synthetic_contact_sheet.png"))
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=144, help="tile side, px (144 keeps the PNG under 1 MB)")
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), contact_sheet(args.n, args.seed, args.size), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
