#!/usr/bin/env python3
"""Runs an NCNN model (.param + .bin beside it) in ncnn (Tencent's runtime, the `ncnn` wheel)
and its ONNX conversion by banwatch in ONNX Runtime on the same random input, and prints one
JSON object: every output's name, shape and largest error relative to the output's largest
value. ncnn runs in float32 (its float16 storage and arithmetic off), so only summation order
differs.

The input size is the Input layer's (`0=w 1=h 2=c`), or SIZE (WxH) when given or when the
model leaves it open. Outputs are paired in order (ncnn's output blobs, the ONNX graph's
outputs). Exit code 0 when every ncnn output has an ONNX output of as many values; 1 otherwise.

usage: compare-ncnn-onnx.py MODEL.param MODEL.onnx [SEED] [SIZE]
"""
import sys

import ncnn
import numpy as np

from compare_outputs import report, run_onnx


def input_shape(param, size):
    for line in open(param):
        f = line.split()
        if f and f[0] == "Input":
            kv = dict(x.split("=", 1) for x in f[4:] if "=" in x)
            w, h, c = (int(kv.get(k, "0")) for k in ("0", "1", "2"))
            if size:
                w, h = size
            if w <= 0 or h <= 0:
                w, h = 64, 64
            return (c if c > 0 else 3, h, w)
    sys.exit(f"{param}: no Input layer")


def main():
    if len(sys.argv) not in (3, 4, 5):
        sys.exit(__doc__)
    param, onx = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) >= 4 else 0)
    size = tuple(int(v) for v in sys.argv[4].split("x")) if len(sys.argv) == 5 else None
    c, h, w = input_shape(param, size)
    x = rng.random((c, h, w)).astype(np.float32)

    net = ncnn.Net()
    for flag in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, flag, False)
    net.opt.num_threads = 1
    # Keep every blob: light mode frees a blob once read, and a second output may need it.
    net.opt.lightmode = False
    if net.load_param(param) != 0 or net.load_model(param[: -len(".param")] + ".bin") != 0:
        sys.exit(f"{param}: ncnn did not load it")
    ex = net.create_extractor()
    ex.input(net.input_names()[0], ncnn.Mat(x))
    want = []
    for name in net.output_names():
        r, m = ex.extract(name)
        if r != 0:
            sys.exit(f"{param}: ncnn failed on {name}")
        want.append((name, np.array(m)))

    sys.exit(report(param, want, run_onnx(onx, x[None])))


if __name__ == "__main__":
    main()
