"""OpenVINO IR export (openvino.convert_model of a torch.export program) and NNCF post-training int8.

An IR is two files, `<name>.xml` (graph) and `<name>.bin` (weights, written beside it). fp32
keeps float32 weights (compress_to_fp16=False); fp16 stores float16 weights only, the CPU plugin
still computes in its own inference precision. int8 is NNCF's default symmetric (PERFORMANCE)
preset with fast bias correction, calibrated on every given image, with NNCF's overflow fix on
every layer (7-bit weights; its default fixes the first layer only): on x86 CPUs without VNNI
the 8-bit products saturate, and MobileNet-like networks lose accuracy there (NNCF's release
notes say so; the shipped student lost 0.05 points of NME, 4.78 against 4.73 %).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT_NAME = "image"
OUTPUT_NAME = "features"


def export_fp32(model, example: np.ndarray, path: Path) -> Path:
    """Convert `model` (eval mode) traced on `example` (1, 3, S, S) to `path` (.xml) and its .bin.

    Goes through torch.export (OpenVINO's TorchScript path relies on the deprecated
    torch.jit.trace); the exported program has dynamic dimensions, fixed here to the example's.
    """
    import openvino as ov
    import torch

    path = Path(path)
    x = torch.from_numpy(np.ascontiguousarray(example, np.float32))
    with torch.no_grad():
        ov_model = ov.convert_model(torch.export.export(model.eval(), (x,)))
    ov_model.reshape({0: list(x.shape)})
    ov_model.inputs[0].get_tensor().set_names({INPUT_NAME})
    ov_model.outputs[0].get_tensor().set_names({OUTPUT_NAME})
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    return path


def quantize_int8(fp32_path: Path, calib: np.ndarray, path: Path) -> Path:
    """NNCF static int8 of an fp32 IR, calibrated on `calib` (N, 3, S, S) float32, one image per step."""
    import nncf
    import openvino as ov

    path = Path(path)
    images = np.ascontiguousarray(calib, np.float32)
    dataset = nncf.Dataset([images[i : i + 1] for i in range(len(images))])
    quantized = nncf.quantize(ov.Core().read_model(str(fp32_path)), dataset, subset_size=len(images),
                              advanced_parameters=nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE))
    ov.save_model(quantized, str(path), compress_to_fp16=False)
    return path


def convert_fp16(fp32_path: Path, path: Path) -> Path:
    """The same IR with float16 weights (half the .bin); compute precision is the device's choice."""
    import openvino as ov

    path = Path(path)
    ov.save_model(ov.Core().read_model(str(fp32_path)), str(path), compress_to_fp16=True)
    return path
