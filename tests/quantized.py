"""What tests read out of quantized model files."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def int8_weights(backend: str, path: Path) -> list[np.ndarray]:
    """The int8 weight tensors of an ONNX (QDQ initializers) or OpenVINO (i8 constants) model,
    leaving out depthwise ones (OpenVINO's rank-5 group-convolution weights), which no x86
    kernel sums in saturating 16-bit pairs."""
    if backend == "onnxruntime":
        import onnx
        from onnx import numpy_helper

        m = onnx.load(str(path))
        inits = {i.name: i for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8}
        return [numpy_helper.to_array(inits[n.input[0]]) for n in m.graph.node
                if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    import openvino as ov

    return [op.get_data() for op in ov.Core().read_model(str(path)).get_ops()
            if op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.i8 and len(op.get_output_shape(0)) != 5]


def largest_int8_weight(backend: str, path: Path) -> int:
    """The largest |weight| over ``int8_weights`` (64 at most for 7-bit weights)."""
    weights = int8_weights(backend, path)
    assert weights, f"no int8 weights found in {path}"
    return max(int(np.abs(w.astype(np.int32)).max()) for w in weights)
