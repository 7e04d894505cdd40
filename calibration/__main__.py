"""``python -m calibration SOURCE --count N --out calib.npz``: build a calibration set for a
bundle's input spec (ytf68 folders use their own boxes; folders and videos are located with the
bundle's fp32 model through the runtime)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_landmarks.errors import EdgeLandmarksError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m calibration", description=__doc__)
    p.add_argument("source", help="ytf68-format folder, folder of images, or video file")
    p.add_argument("--count", type=int, default=128, help="faces in the set")
    p.add_argument("--bundle", help="bundle whose input spec (and fp32 model, for locating faces) to use; default: shipped")
    p.add_argument("--out", required=True, help="output .npz (inputs, names, yaw_bin)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    a = p.parse_args(argv)
    try:
        from edge_landmarks import Runtime

        out = Path(a.out)
        if out.exists() and not a.force:
            raise EdgeLandmarksError(f"{out} exists; pass --force to overwrite it")
        rt = Runtime(a.bundle, precision="fp32")
        spec = rt.bundle.input
        from . import build_calibration_set
        from .sources import runtime_locator

        cs = build_calibration_set(a.source, a.count, spec.size, spec.enlarge, spec.color, spec.mean, spec.std,
                                   locate=runtime_locator(rt))
        cs.save(out)
        print(f"wrote {out}: {len(cs.names)} faces")
        return 0
    except EdgeLandmarksError as e:
        print(f"calibration: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
