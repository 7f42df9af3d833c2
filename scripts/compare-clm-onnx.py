#!/usr/bin/env python3
"""Runs a clmtrackr model's landmark search in clmtrackr's own code (scripts/run-clm.js,
Node.js, clmtrackr 1.1.2's svmfilter_fft.js or its MOSSE responses on the mosse package) and banwatch's ONNX conversion of it in ONNX
Runtime on the same smooth synthetic face crop (RGB 0..255, the side the conversion takes), and
prints one JSON object: per output (the response maps, then the landmarks) its name, shape and
largest error relative to its largest value. Exit code 0 when the outputs have as many values.

usage: compare-clm-onnx.py MODEL.js MODEL.onnx WINDOW
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

from compare_outputs import report, run_onnx


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model, onx, window = sys.argv[1], sys.argv[2], sys.argv[3]
    so = ort.SessionOptions()
    so.log_severity_level = 3
    side = ort.InferenceSession(onx, so, providers=["CPUExecutionProvider"]).get_inputs()[0].shape[2]
    yy, xx = np.mgrid[0:side, 0:side] / side
    # Smooth, with features at several scales (so that patch peaks are not ties).
    x = np.stack([128 + 100 * np.sin(9 * xx + 2 * yy), 128 + 90 * np.cos(7 * yy - 3 * xx),
                  128 + 60 * np.sin(11 * (xx * yy))], -1).astype(np.float32)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.f32"), os.path.join(d, "out.f32")
        x.tofile(inp)
        env = dict(os.environ, NODE_PATH=os.path.join(here, "..", ".deps", "webjs", "node_modules"))
        meta = json.loads(subprocess.run(["node", os.path.join(here, "run-clm.js"), model, inp,
                                          window, out], check=True, capture_output=True,
                                         env=env).stdout)
        n, w = meta["landmarks"], meta["window"]
        got = np.fromfile(out, np.float32)
        want = [("patch_responses", got[:n * w * w].reshape(1, n, w, w)),
                ("landmarks", got[n * w * w:].reshape(1, 2 * n))]
    outs = run_onnx(onx, x.transpose(2, 0, 1)[None].copy())
    # The ONNX graph's outputs are (landmarks, patch_responses).
    sys.exit(report(model, want, [outs[1], outs[0]]))


if __name__ == "__main__":
    main()
