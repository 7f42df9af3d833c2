#!/usr/bin/env python3
"""Runs a Caffe model (MODEL.caffemodel with MODEL.prototxt beside it) in OpenCV's DNN module
(`cv2.dnn.readNetFromCaffe`, the reader most deployments of Caffe face detectors use) and its
ONNX conversion by banwatch in ONNX Runtime on the same random input, and prints one JSON
object: every output's name, shape and largest error relative to the output's largest value.

The input shape is the prototxt's `input_shape`. Outputs are paired in order (OpenCV's
unconnected outputs, the ONNX graph's outputs). Exit code 0 when every OpenCV output has an
ONNX output of as many values; 1 otherwise.

usage: compare-caffe-onnx.py MODEL.caffemodel MODEL.onnx [SEED]
"""
import re
import sys

import cv2
import numpy as np

from compare_outputs import report, run_onnx


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    model, onx = sys.argv[1], sys.argv[2]
    proto = model[: -len(".caffemodel")] + ".prototxt"
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) == 4 else 0)
    dims = [int(d) for d in re.findall(r"dim:\s*(\d+)", open(proto).read())[:4]]
    x = rng.random(dims).astype(np.float32)

    net = cv2.dnn.readNetFromCaffe(proto, model)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setInput(x)
    names = net.getUnconnectedOutLayersNames()
    want = list(zip(names, net.forward(names)))

    sys.exit(report(model, want, run_onnx(onx, x)))


if __name__ == "__main__":
    main()
