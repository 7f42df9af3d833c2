#!/usr/bin/env python3
"""Runs an OpenVINO IR (.xml, its .bin beside it) in OpenVINO's own runtime (the `openvino`
wheel, CPU plugin, inference precision f32) and its ONNX conversion by banwatch in ONNX Runtime
on the same random input, and prints one JSON object: every output's name, shape and largest
error relative to the output's largest value. Outputs are paired in order (the IR's Results,
the ONNX graph's outputs). Open dimensions are the batch (1) and, for height and width, SIZE
(default 128). Exit code 0 when every IR output has an ONNX output of as many values.

usage: compare-openvino-onnx.py MODEL.xml MODEL.onnx [SEED] [SIZE]
"""
import sys

import numpy as np
import openvino as ov

from compare_outputs import report, run_onnx


def main():
    if len(sys.argv) not in (3, 4, 5):
        sys.exit(__doc__)
    xml, onx = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) >= 4 else 0)
    side = int(sys.argv[4]) if len(sys.argv) == 5 else 128
    core = ov.Core()
    model = core.read_model(xml)
    dims = [d.get_length() if d.is_static else (1 if i == 0 else side)
            for i, d in enumerate(model.inputs[0].get_partial_shape())]
    x = rng.random(dims).astype(np.float32)
    model.reshape({model.inputs[0].get_any_name(): dims})
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(x)
    want = [(o.get_any_name() if o.get_names() else f"output{i}", np.array(result[o]))
            for i, o in enumerate(compiled.outputs)]
    sys.exit(report(xml, want, run_onnx(onx, x)))


if __name__ == "__main__":
    main()
