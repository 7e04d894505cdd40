"""The ``edge-landmarks`` command. Subcommands that need torch import it lazily."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import EdgeLandmarksError


def _cmd_train(args: argparse.Namespace) -> int:
    from export.config import TrainConfig
    from export.train import DEFAULT_DATA, train

    cfg = TrainConfig.load(args.config)
    if args.epochs:
        from dataclasses import replace

        cfg = replace(cfg, epochs=args.epochs)
    summary = train(cfg, args.out, data=args.data or DEFAULT_DATA, resume=not args.restart)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_folder

    report = evaluate_folder(args.data, model=args.model, people=args.people)
    print(report.summary())
    if args.json:
        _write_new(Path(args.json), json.dumps(report.to_dict(), indent=2), args.force)
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from .draw import draw_landmarks
    from .errors import InputError
    from .evaluate import load_teacher_predictor
    from .geometry import check_box

    out = Path(args.out) if args.out else None
    if out and out.exists() and not args.force:
        raise EdgeLandmarksError(f"{out} exists; pass --force to overwrite it")
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read image {args.image}: missing or not a decodable image")
    h, w = image.shape[:2]
    predictor = load_teacher_predictor(args.model)
    if args.box:
        box = check_box([float(v) for v in args.box.split(",")], image.shape)
    else:  # one loosely framed face filling the image: the square the model frames is the image
        side = max(w, h) / predictor.model.cfg.input.enlarge
        box = np.array([w / 2 - side / 2, h / 2 - side / 2, w / 2 + side / 2, h / 2 + side / 2], np.float32)
    res = predictor.predict([image], [box])
    result = {
        "image": args.image,
        "layout": "ibug68",
        "landmarks": np.round(res.landmarks[0].astype(float), 2).tolist(),
        "visibility": np.round(res.visibility[0].astype(float), 3).tolist(),
        "pose_deg": dict(zip(("yaw", "pitch", "roll"), np.round(res.pose[0].astype(float), 2).tolist())),
    }
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), draw_landmarks(image, res.landmarks[0], res.visibility[0], res.region[0]))
        print(f"wrote {out}", file=sys.stderr)
    print(json.dumps(result) if args.json else
          f"{args.image}: 68 landmarks, yaw {result['pose_deg']['yaw']:.1f} pitch {result['pose_deg']['pitch']:.1f} "
          f"roll {result['pose_deg']['roll']:.1f} deg")
    return 0


def _write_new(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise EdgeLandmarksError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-landmarks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the teacher model (needs the [train] extra)")
    t.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "export" / "recipes" / "teacher.json"),
                   help="training recipe (JSON TrainConfig)")
    t.add_argument("--out", required=True, help="run folder for checkpoints and history")
    t.add_argument("--data", help="ytf68-format folder (default ../shared/data/ytf68)")
    t.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    t.add_argument("--restart", action="store_true", help="ignore an existing last.pt instead of resuming")
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("eval", help="NME / FR@10 / AUC@10 on a ytf68-format folder")
    e.add_argument("--data", required=True, help="ytf68-format folder (images/ + landmarks.csv)")
    e.add_argument("--model", help="teacher checkpoint (.pt); default: the shipped model")
    e.add_argument("--people", choices=["all", "val", "train"], default="all",
                   help="evaluate all faces, or one side of the committed ytf68 person split")
    e.add_argument("--json", help="write the full report (with per-face NMEs) here")
    e.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    e.set_defaults(func=_cmd_eval)

    d = sub.add_parser("detect", help="landmarks and head pose of one face in an image (shipped model)")
    d.add_argument("image", help="image file")
    d.add_argument("--box", help="face box x0,y0,x1,y1 in pixels; default: one loosely framed face filling the image")
    d.add_argument("--out", help="write a drawing of the result here (PNG/JPG)")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.add_argument("--model", help="teacher checkpoint (.pt); default: the shipped model")
    d.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    d.set_defaults(func=_cmd_detect)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EdgeLandmarksError as e:
        print(f"edge-landmarks: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
