"""int8 accuracy versus calibration-set size: exports the student at each size (int8 for every
target) and measures NME / FR@10 on the validation people through the runtime.

    python -m benchmarks.calibration_size [--student export/checkpoints/student.pt] [--sizes 32 128 512]

Prints one row per target and size, plus the fp32 reference; the export default
(``export.bundle.DEFAULT_CALIBRATION_SIZE``) was picked from this table.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

from export.bundle import export_bundle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--student", default="export/checkpoints/student.pt")
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 512])
    p.add_argument("--targets", nargs="+", default=["onnx", "openvino", "tflite"])
    p.add_argument("--json", help="write the table here")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in a.sizes:
            out = export_bundle(a.student, Path(tmp) / f"b{n}", a.targets, ["fp32", "int8"], calib_size=n,
                                command=f"calibration_size {n}")
            for m in json.loads((out / "manifest.json").read_text())["models"]:
                if m["precision"] == "int8" or n == a.sizes[0]:
                    rows.append({"calib_size": n if m["precision"] == "int8" else None, "backend": m["backend"],
                                 "precision": m["precision"], **m["accuracy"]})
    print(f"{'backend':12s} {'prec':5s} {'calib':>5s} {'NME %':>6s} {'FR@10 %':>8s}")
    for r in rows:
        print(f"{r['backend']:12s} {r['precision']:5s} {str(r['calib_size'] or '-'):>5s} {100 * r['nme_mean']:6.2f} {100 * r['fr10']:8.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
