"""Shared by the compare-*-onnx.py scripts: run banwatch's ONNX conversion in ONNX Runtime and
set its outputs, in order, against the reference runtime's, as one JSON object on stdout (every
output's name, shape and largest error relative to the output's largest value). Returns the
exit code: 0 when every reference output has an ONNX output of as many values, else 1."""
import json

import numpy as np
import onnxruntime as ort


def run_onnx(path, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def report(model, want, got):
    """want: (name, array) pairs of the reference runtime; got: the ONNX outputs."""
    rows, ok = [], len(got) == len(want)
    for (name, a), b in zip(want, got):
        if a.size != b.size:
            ok = False
            rows.append(dict(name=name, shape=list(a.shape), onnx_shape=list(b.shape), missing=True))
            continue
        b = b.reshape(a.shape)
        err = float(np.abs(a - b).max() / (np.abs(a).max() + 1e-6))
        rows.append(dict(name=name, shape=list(a.shape), max_relative_error=err))
    print(json.dumps(dict(model=model, outputs=rows)))
    return 0 if ok and rows else 1
