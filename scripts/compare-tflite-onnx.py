#!/usr/bin/env python3
"""Runs a TFLite model in LiteRT (Google's TFLite runtime, the `ai-edge-litert` wheel) and its
ONNX conversion by banwatch in ONNX Runtime on the same random input, and prints one JSON
object: every output's name, shape and largest error relative to the output's largest value.

Quantized inputs and outputs are compared in real numbers (scale x (q - zero_point)), which is
what banwatch's float view of the graph computes. Exit code 0 when every TFLite output was
found in the ONNX model with the same number of values; 1 otherwise.

usage: compare-tflite-onnx.py MODEL.tflite MODEL.onnx [SEED]
"""
import json
import sys

import numpy as np
import onnxruntime as ort
from ai_edge_litert.interpreter import Interpreter


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    tfl, onx = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) == 4 else 0)
    it = Interpreter(model_path=tfl)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    x = rng.random(inp["shape"]).astype(np.float32)
    if inp["dtype"] != np.float32:
        s, z = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        xq = np.clip(np.round(x / s + z), info.min, info.max).astype(inp["dtype"])
        it.set_tensor(inp["index"], xq)
        x = ((xq.astype(np.float32) - z) * s).astype(np.float32)
    else:
        it.set_tensor(inp["index"], x)
    it.invoke()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(onx, so, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
    rows, ok = [], True
    for d in it.get_output_details():
        name = f"t{d['index']}"
        want = it.get_tensor(d["index"])
        if want.dtype != np.float32:
            s, z = d["quantization"]
            want = (want.astype(np.float32) - z) * s
        if name not in got or got[name].size != want.size:
            ok = False
            rows.append(dict(name=name, shape=list(want.shape), missing=True))
            continue
        o = got[name].reshape(want.shape)
        err = float(np.abs(want - o).max() / (np.abs(want).max() + 1e-6))
        rows.append(dict(name=name, shape=list(want.shape), max_relative_error=err))
    print(json.dumps(dict(model=tfl, outputs=rows)))
    sys.exit(0 if ok and rows else 1)


if __name__ == "__main__":
    main()
