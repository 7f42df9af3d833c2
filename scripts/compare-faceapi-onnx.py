#!/usr/bin/env python3
"""Runs a face-api.js network (its weights manifest) in face-api.js itself (scripts/run-faceapi.js,
Node.js, TF.js's CPU backend) and banwatch's ONNX conversion of it in ONNX Runtime on the same
smooth synthetic picture (RGB 0..255, SIZE x SIZE), and prints one JSON object: the output's
name, shape and largest error relative to its largest value. NET is `recognition`, `tiny`,
`landmark68tiny`, `landmark68`, `expression` or `ssd` (boxes and scores compared apart). Exit code 0 when the outputs have as many values.

usage: compare-faceapi-onnx.py MANIFEST.json MODEL.onnx NET SIZE
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

from compare_outputs import report, run_onnx


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    manifest, onx, net, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    yy, xx = np.mgrid[0:size, 0:size] / size
    x = np.stack([128 + 100 * np.sin(6 * xx), 128 + 100 * np.cos(5 * yy),
                  128 + 60 * np.sin(3 * (xx + yy))], -1)[None].astype(np.float32)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.f32"), os.path.join(d, "out.f32")
        x.tofile(inp)
        node_path = os.path.join(here, "..", ".deps", "webjs", "node_modules")
        env = dict(os.environ, NODE_PATH=node_path)
        shape = subprocess.run(["node", os.path.join(here, "run-faceapi.js"), manifest, net, str(size),
                                inp, out], check=True, capture_output=True, env=env).stdout.decode()
        want = np.fromfile(out, np.float32).reshape([int(v) for v in shape.strip()[1:-1].split(",")])
    got = run_onnx(onx, x.transpose(0, 3, 1, 2).copy())
    if net == "ssd":
        # Rows of (box, score): the conversion's two outputs, boxes then scores.
        sys.exit(report(manifest, [("boxes", want[:, :4].copy()), ("scores", want[:, 4].copy())], got))
    sys.exit(report(manifest, [(net, want)], got))


if __name__ == "__main__":
    main()
