"""The ``edge-landmarks`` command. Subcommands that need torch (train, distill, export, and
eval of a .pt checkpoint) import it lazily; detect, eval and benchmark run on the runtime."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .errors import BundleError, EdgeLandmarksError, InputError

REPO = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def _cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from export.config import TrainConfig
    from export.train import DEFAULT_DATA, train

    cfg = TrainConfig.load(args.config)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    summary = train(cfg, args.out, data=args.data or DEFAULT_DATA, resume=not args.restart)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from export.config import DistillConfig
    from export.distill import distill
    from export.train import DEFAULT_DATA

    cfg = DistillConfig.load(args.config)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    if args.teacher:
        cfg = replace(cfg, teacher=args.teacher)
    summary = distill(cfg, args.out, data=args.data or DEFAULT_DATA, resume=not args.restart)
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from export.bundle import export_bundle
    from export.train import DEFAULT_DATA

    targets = ["onnx", "openvino", "tflite"] if args.target == "all" else [args.target]
    precisions = ["fp32"] + (["int8"] if args.int8 else []) + (["fp16"] if args.fp16 else [])
    if args.only:
        precisions = {}
        for item in args.only.split(","):
            target, _, precision = item.strip().partition(":")
            if not precision:
                raise InputError(f"--only takes TARGET:PRECISION pairs separated by commas, got {item!r}")
            precisions.setdefault(target, []).append(precision)
        targets = list(precisions)
    command = "edge-landmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if args.command_line is None else args.command_line
    out = export_bundle(args.student, args.out, targets, precisions, calib=args.calib, calib_size=args.calib_size,
                        data=args.data or DEFAULT_DATA, force=args.force, command=command,
                        evaluate=not args.no_eval, make_zip=args.zip)
    print(f"wrote bundle {out}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_folder

    report = evaluate_folder(args.data, model=args.model, people=args.people, backend=args.backend, precision=args.precision,
                             flip_test=args.flip_test)
    print(report.summary())
    if args.json:
        _write_new(Path(args.json), json.dumps(report.to_dict(), indent=2), args.force)
    return 0


def _cmd_eval_3d(args: argparse.Namespace) -> int:
    try:
        from export.eval3d import evaluate_3d
    except ImportError as e:
        raise BundleError(f"eval-3d renders synthetic faces and needs the training extra (pip install '.[train]'): {e}") from None
    if args.json and Path(args.json).exists() and not args.force:
        raise InputError(f"{args.json} exists; pass --force to overwrite it")
    rep = evaluate_3d(args.model, n_faces=args.faces, n_sequences=args.sequences, n_frames=args.frames,
                      backend=args.backend, precision=args.precision)
    yaw = rep["pose_mae_by_yaw"]
    print(f"{rep['model']}: {rep['n_faces']} synthetic faces, {rep['sequences']} sequences x {rep['frames']} frames")
    print(f"pose MAE (|yaw| <= 60) {rep['pose_mae']:.2f} deg; by |yaw|: "
          + ", ".join(f"{k}: {v['mean']:.2f}" for k, v in yaw.items()))
    print(f"3D NME {100 * rep['nme3d']:.2f} %  visibility F1 {rep['visibility_f1']:.3f}  "
          f"ibug68 NME {100 * rep['ibug68_nme']:.2f} %  wflw98 NME {100 * rep['wflw98_nme']:.2f} % "
          f"({rep['wflw98_vs_ibug68']:.2f}x)")
    smoothed = "n/a" if rep["jitter_smoothed"] is None else f"{100 * rep['jitter_smoothed']:.3f} %"
    print(f"jitter {100 * rep['jitter']:.3f} %  smoothed {smoothed}  static {100 * rep['jitter_static']:.3f} %")
    if args.json:
        _write_new(Path(args.json), json.dumps(rep, indent=2), args.force)
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .bundle import Bundle
    from .selection import choose

    bundle = Bundle.load(args.bundle)
    import os

    threads = args.threads or os.cpu_count() or 1
    backend, precision, table = choose(bundle, threads, use_cache=False, budget_s=args.seconds)
    print(f"bundle {bundle.root}  threads {threads}  (per face: a crop in, the decoded face out)")
    print(f"{'backend':12s} {'precision':9s} {'median ms':>9s} {'p90 ms':>7s} {'runs':>5s}  accepted")
    for t in sorted(table, key=lambda t: t.median_ms):
        mark = "  <- auto choice" if (t.backend, t.precision) == (backend, precision) else ""
        print(f"{t.backend:12s} {t.precision:9s} {t.median_ms:9.3f} {t.p90_ms:7.3f} {t.runs:5d}  "
              f"{'yes' if t.accepted else 'no: ' + t.note}{mark}")
    return 0


def _inputs(path: Path) -> tuple[str, list[Path]]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}")
        return "dir", files
    if not path.is_file():
        raise InputError(f"{path} not found")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return "video", [path]
    return "image", [path]


def _cmd_detect(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from .draw import draw_face
    from .geometry import check_box
    from .image import load_image
    from .runtime import Runtime

    src = Path(args.input)
    kind, files = _inputs(src)
    out = Path(args.out) if args.out else None
    if out and out.exists() and not args.force:
        raise EdgeLandmarksError(f"{out} exists; pass --force to overwrite it")
    if args.box and kind != "image":
        raise InputError("--box applies to a single image")
    rt = Runtime(args.model, backend=args.backend, precision=args.precision, layout=args.layout,
                 mode="video" if kind == "video" else "image", score_threshold=args.min_score)

    def report(name, faces):
        if args.json:
            print(json.dumps({"input": name, "backend": rt.backend, "precision": rt.precision,
                              "faces": [f.to_dict() for f in faces]}))
        elif kind == "image":
            for f in faces:
                print(f"{name}: {len(f.landmarks)} landmarks ({f.layout}), yaw {f.pose.yaw:.1f} pitch {f.pose.pitch:.1f} "
                      f"roll {f.pose.roll:.1f} deg, score {f.score:.2f} [{rt.backend}/{rt.precision}]")
            if not faces:
                print(f"{name}: no face found")

    if kind == "image":
        image = load_image(files[0])
        boxes = [check_box([float(v) for v in args.box.split(",")], image.shape)] if args.box else None
        faces = rt.detect(image, boxes)
        report(str(files[0]), faces)
        if out:
            drawn = image
            for f in faces:
                drawn = draw_face(drawn, f)
            _write_image(out, drawn)
        return 0
    if kind == "dir":
        if out:
            out.mkdir(parents=True, exist_ok=True)
        for p in tqdm(files, desc="images", disable=args.json):
            image = load_image(p)
            faces = rt.detect(image)
            report(str(p), faces)
            if out:
                drawn = image
                for f in faces:
                    drawn = draw_face(drawn, f)
                _write_image(out / (p.stem + ".png"), drawn)
        return 0
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise InputError(f"cannot open video {src}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer = None
    try:
        for i in tqdm(range(n or 10**9), total=n, desc="frames", disable=args.json):
            ok, frame = cap.read()
            if not ok:
                break
            faces = rt.track(frame, timestamp=i / fps)
            report(f"{src}#{i}", faces)
            if out:
                if writer is None:
                    out.parent.mkdir(parents=True, exist_ok=True)
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
                drawn = frame
                for f in faces:
                    drawn = draw_face(drawn, f)
                writer.write(drawn)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return 0


def _write_image(path: Path, image) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise InputError(f"cannot write {path}: use a .png or .jpg name in a writable folder")
    print(f"wrote {path}", file=sys.stderr)


def _write_new(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise EdgeLandmarksError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _runtime_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", help="auto (fastest measured), onnxruntime, openvino or tflite")
    p.add_argument("--precision", default="auto", help="auto, fp32 or int8")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-landmarks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the teacher model (needs the [train] extra)")
    t.add_argument("--config", default=str(REPO / "export" / "recipes" / "teacher.json"), help="training recipe (JSON TrainConfig)")
    t.add_argument("--out", required=True, help="run folder for checkpoints and history")
    t.add_argument("--data", help="ytf68-format folder (default ../shared/data/ytf68)")
    t.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    t.add_argument("--restart", action="store_true", help="ignore an existing last.pt instead of resuming")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("distill", help="distil the teacher into the edge student (needs the [train] extra)")
    s.add_argument("--config", default=str(REPO / "export" / "recipes" / "student.json"), help="recipe (JSON DistillConfig)")
    s.add_argument("--out", required=True, help="run folder for checkpoints and history")
    s.add_argument("--teacher", help="teacher checkpoint (default: the recipe's)")
    s.add_argument("--data", help="ytf68-format folder (default ../shared/data/ytf68)")
    s.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    s.add_argument("--restart", action="store_true", help="ignore an existing last.pt instead of resuming")
    s.set_defaults(func=_cmd_distill)

    x = sub.add_parser("export", help="export a student to a model bundle (needs the [export] extra)")
    x.add_argument("--student", default=str(REPO / "export" / "checkpoints" / "student.pt"), help="student checkpoint")
    x.add_argument("--target", choices=["onnx", "openvino", "tflite", "all"], default="all")
    q = x.add_mutually_exclusive_group()
    q.add_argument("--int8", action="store_true", help="also build static int8 models (calibrated)")
    q.add_argument("--fp16", action="store_true", help="also build float16 models")
    x.add_argument("--only", help="exactly these models, e.g. onnx:fp32,onnx:int8,tflite:fp16,tflite:int8 "
                   "(overrides --target, --int8 and --fp16)")
    x.add_argument("--calib", help="calibration source: ytf68 folder, image folder, video, or a .npz from python -m calibration (default: the training people)")
    x.add_argument("--calib-size", type=int, default=32, help="calibration faces (default measured best: docs/DEPLOYED.md)")
    x.add_argument("--data", help="ytf68-format folder for calibration and the accuracy check")
    x.add_argument("--out", required=True, help="bundle folder to write")
    x.add_argument("--zip", action="store_true", help="also write BUNDLE.zip")
    x.add_argument("--no-eval", action="store_true", help="skip the accuracy measurement")
    x.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    x.add_argument("--command-line", help=argparse.SUPPRESS)
    x.set_defaults(func=_cmd_export)

    e = sub.add_parser("eval", help="NME / FR@10 / AUC@10 on a ytf68-format folder")
    e.add_argument("--data", required=True, help="ytf68-format folder (images/ + landmarks.csv)")
    e.add_argument("--model", help="bundle folder/zip, or a teacher/student checkpoint (.pt); default: the shipped bundle")
    e.add_argument("--people", choices=["all", "val", "train"], default="all",
                   help="evaluate all faces, or one side of the committed ytf68 person split")
    _runtime_options(e)
    e.add_argument("--flip-test", action="store_true",
                   help="teacher checkpoints: average each face's landmarks with its mirror image's")
    e.add_argument("--json", help="write the full report (with per-face NMEs) here")
    e.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    e.set_defaults(func=_cmd_eval)

    e3 = sub.add_parser("eval-3d", help="head pose, 3D landmarks, visibility, wflw98 and jitter on synthetic faces (needs [train])")
    e3.add_argument("--model", help="teacher checkpoint (.pt), or a bundle folder/zip through the runtime; default: the shipped bundle")
    e3.add_argument("--faces", type=int, default=600, help="synthetic test faces (seeded, fixed)")
    e3.add_argument("--sequences", type=int, default=12, help="synthetic sequences for jitter")
    e3.add_argument("--frames", type=int, default=40, help="frames per sequence")
    _runtime_options(e3)
    e3.add_argument("--json", help="write the report here")
    e3.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    e3.set_defaults(func=_cmd_eval_3d)

    d = sub.add_parser("detect", help="landmarks, 3D and head pose of faces in an image, a folder of images or a video")
    d.add_argument("input", help="image file, folder of images, or video file")
    d.add_argument("--box", help="face box x0,y0,x1,y1 in pixels (single image); default: found by the model")
    d.add_argument("--out", help="drawing of the results: an image file, a folder (for a folder), or a video file")
    d.add_argument("--json", action="store_true", help="print results as JSON lines")
    d.add_argument("--model", help="bundle folder or zip (default: the shipped bundle)")
    d.add_argument("--layout", default="ibug68", help="ibug68 or wflw98")
    d.add_argument("--min-score", type=float, default=0.5, help="drop faces scoring below this (0..1)")
    _runtime_options(d)
    d.add_argument("--force", action="store_true", help="overwrite an existing --out")
    d.set_defaults(func=_cmd_detect)

    b = sub.add_parser("benchmark", help="time every installed backend and precision of a bundle; show the auto choice")
    b.add_argument("--bundle", help="bundle folder or zip (default: the shipped bundle)")
    b.add_argument("--threads", type=int, help="inference threads (default: all cores)")
    b.add_argument("--seconds", type=float, default=0.5, help="timing budget per model")
    b.set_defaults(func=_cmd_benchmark)
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
