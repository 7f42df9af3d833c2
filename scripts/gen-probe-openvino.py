#!/usr/bin/env python3
"""Writes OpenVINO IR models (.xml graph + .bin weights, IR version 11) for the probe's
converter tests, with numpy only: random weights, fixed seeds. The files follow OpenVINO's IR
format and operation specifications (docs/articles_en/documentation/openvino-ir-format);
scripts/compare-openvino-onnx.py checks each against OpenVINO's own runtime.

  coverage.xml/.bin       most operations the converter translates: Pad, Convolution,
                          GroupConvolution, PReLU with a per-channel slope, MaxPool with ceil
                          rounding, AvgPool excluding pads, HSwish, Swish, Clamp, Sigmoid,
                          Multiply, Concat, Transpose, Reshape with special_zero, MatMul with
                          transpose_b, SoftMax, ShapeOf and Gather, float16 weights behind a
                          Convert; two Results, written in the opposite order to their depth
  embedder_512.xml/.bin   a small face embedder on a 112x112 crop: convolutions, a global
                          average pool, a 512-value MatMul
  inert_embedding_512     the same shape, every weight zero but a bias: one output for any
                          picture (an inert export)
  unconvertible           a recognition-shaped net with a CumSum after its first convolution,
                          which the converter does not translate; most of the graph depends on
                          it, so it is not post-processing to leave out: the report names it

usage: gen-probe-openvino.py OUT_DIR
"""
import os
import sys

import numpy as np


class Ir:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.layers = []
        self.edges = []
        self.bin = bytearray()
        self.next = 0

    def _add(self, kind, inputs, out_dims, data=None, version="opset1", out_precision="FP32"):
        """A layer reading `inputs` (each (layer id, port id, dims)); one output port."""
        lid = self.next
        self.next += 1
        attrs = "" if data is None else "<data " + " ".join(f'{k}="{v}"' for k, v in data.items()) + "/>"
        ports_in = ""
        for i, (src, sport, dims) in enumerate(inputs):
            ports_in += f'<port id="{i}">' + "".join(f"<dim>{d}</dim>" for d in dims) + "</port>"
            self.edges.append((src, sport, lid, i))
        section_in = f"<input>{ports_in}</input>" if inputs else ""
        out_port = len(inputs)
        section_out = ""
        if out_dims is not None:
            section_out = (f'<output><port id="{out_port}" precision="{out_precision}" names="{kind.lower()}{lid}">'
                           + "".join(f"<dim>{d}</dim>" for d in out_dims) + "</port></output>")
        self.layers.append(
            f'<layer id="{lid}" name="{kind.lower()}{lid}" type="{kind}" version="{version}">'
            f"{attrs}{section_in}{section_out}</layer>")
        return (lid, out_port, out_dims)

    def param(self, dims):
        shape = ",".join("?" if d < 0 else str(d) for d in dims)
        return self._add("Parameter", [], dims, {"shape": shape, "element_type": "f32"})

    def const(self, arr):
        arr = np.array(arr, order="C")  # (ascontiguousarray would make a scalar 1-D)
        ty = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16",
              np.dtype(np.int64): "i64", np.dtype(np.int32): "i32"}[arr.dtype]
        offset = len(self.bin)
        self.bin += arr.tobytes()
        prec = {"f32": "FP32", "f16": "FP16", "i64": "I64", "i32": "I32"}[ty]
        return self._add("Const", [], list(arr.shape), {
            "element_type": ty, "shape": ",".join(str(d) for d in arr.shape),
            "offset": offset, "size": arr.nbytes}, out_precision=prec)

    def weights(self, shape, scale=0.3, zero=False):
        w = np.zeros(shape, np.float32) if zero else (self.rng.standard_normal(shape) * scale).astype(np.float32)
        return self.const(w)

    def op(self, kind, inputs, out_dims, data=None, version="opset1"):
        return self._add(kind, inputs, out_dims, data, version)

    def result(self, x):
        self._add("Result", [x], None)

    def write(self, path):
        edges = "".join(f'<edge from-layer="{a}" from-port="{b}" to-layer="{c}" to-port="{d}"/>'
                        for a, b, c, d in self.edges)
        with open(path + ".xml", "w") as f:
            f.write('<?xml version="1.0"?>\n<net name="banwatch-fixture" version="11">\n<layers>\n'
                    + "\n".join(self.layers) + f"\n</layers>\n<edges>{edges}</edges>\n</net>\n")
        with open(path + ".bin", "wb") as f:
            f.write(bytes(self.bin))


def conv_out(n, k, s, pb, pe, ceil=False):
    span = n + pb + pe - k
    return (-(-span // s) if ceil else span // s) + 1


def conv(m, x, cout, k, stride, pad, zero=False, bias=True):
    n, c, h, w = x[2]
    wt = m.weights([cout, c, k, k], zero=zero)
    ho, wo = conv_out(h, k, stride, pad, pad), conv_out(w, k, stride, pad, pad)
    y = m.op("Convolution", [x, wt], [n, cout, ho, wo], {
        "strides": f"{stride}, {stride}", "dilations": "1, 1",
        "pads_begin": f"{pad}, {pad}", "pads_end": f"{pad}, {pad}", "auto_pad": "explicit"})
    if bias:
        b = m.const((m.rng.standard_normal([1, cout, 1, 1]) * 0.1).astype(np.float32))
        y = m.op("Add", [y, b], y[2], {"auto_broadcast": "numpy"})
    return y


def coverage(out):
    m = Ir(1)
    x = m.param([1, 3, 32, 32])
    pb = m.const(np.array([0, 0, 1, 2], np.int64))
    pe = m.const(np.array([0, 0, 2, 1], np.int64))
    pv = m.const(np.array(0.25, np.float32))
    x = m.op("Pad", [x, pb, pe, pv], [1, 3, 35, 35], {"pad_mode": "constant"})
    c1 = conv(m, x, 8, 3, 2, 1)  # 18x18
    slope = m.const((m.rng.random(8) * 0.3).astype(np.float32))
    r1 = m.op("PReLU", [c1, slope], c1[2])
    # Depthwise: weights [G=8, 1, 1, 3, 3], stored float16 behind a Convert.
    gw16 = m.const((m.rng.standard_normal([8, 1, 1, 3, 3]) * 0.3).astype(np.float16))
    gw = m.op("Convert", [gw16], [8, 1, 1, 3, 3], {"destination_type": "f32"})
    g1 = m.op("GroupConvolution", [r1, gw], [1, 8, 18, 18], {
        "strides": "1, 1", "dilations": "1, 1", "pads_begin": "1, 1", "pads_end": "1, 1",
        "auto_pad": "explicit"})
    h1 = m.op("HSwish", [g1], g1[2], version="opset4")
    # Ceil rounding that matters: (18 - 3) / 2 = 7.5 -> 9 windows, the last inside the input.
    mp = m.op("MaxPool", [h1], [1, 8, 9, 9], {
        "strides": "2, 2", "dilations": "1, 1", "pads_begin": "0, 0", "pads_end": "0, 0",
        "kernel": "3, 3", "rounding_type": "ceil", "auto_pad": "explicit",
        "index_element_type": "i64", "axis": "0"}, version="opset8")
    ap = m.op("AvgPool", [h1], [1, 8, 9, 9], {
        "strides": "2, 2", "pads_begin": "1, 1", "pads_end": "1, 1", "kernel": "3, 3",
        "exclude-pad": "true", "rounding_type": "floor", "auto_pad": "explicit"})
    sw = m.op("Swish", [ap], ap[2], version="opset4")
    cl = m.op("Clamp", [mp], mp[2], {"min": "-0.5", "max": "0.75"})
    sg = m.op("Sigmoid", [sw], sw[2])
    mu = m.op("Multiply", [cl, sg], cl[2], {"auto_broadcast": "numpy"})
    cat = m.op("Concat", [mu, sw], [1, 16, 9, 9], {"axis": "1"})
    perm = m.const(np.array([0, 2, 3, 1], np.int64))
    tr = m.op("Transpose", [cat, perm], [1, 9, 9, 16])
    shape = m.const(np.array([0, 81, 16], np.int64))
    rs = m.op("Reshape", [tr, shape], [1, 81, 16], {"special_zero": "true"})
    fw = m.weights([10, 16])
    mm = m.op("MatMul", [rs, fw], [1, 81, 10], {"transpose_a": "false", "transpose_b": "true"})
    sm = m.op("SoftMax", [mm], mm[2], {"axis": "2"}, version="opset8")
    # A shape read at run time: the batch and channel count of the concatenation, as float.
    so = m.op("ShapeOf", [cat], [4], {"output_type": "i64"}, version="opset3")
    idx = m.const(np.array([0, 1], np.int32))
    ax = m.const(np.array(0, np.int64))
    ga = m.op("Gather", [so, idx, ax], [2], {"batch_dims": "0"}, version="opset8")
    gf = m.op("Convert", [ga], [2], {"destination_type": "f32"})
    m.result(gf)
    m.result(sm)
    m.write(os.path.join(out, "coverage"))


def embedder(out, name, inert, unconvertible=False):
    m = Ir(3)
    x = m.param([1, 3, 112, 112])
    c1 = conv(m, x, 16, 3, 2, 1, zero=inert)  # 56
    r1 = m.op("ReLU", [c1], c1[2])
    if unconvertible:
        # Early, so that most of the graph depends on it: not post-processing to leave out.
        axis = m.const(np.array(1, np.int64))
        r1 = m.op("CumSum", [r1, axis], c1[2], {"exclusive": "false", "reverse": "false"},
                  version="opset3")
    c2 = conv(m, r1, 32, 3, 2, 1, zero=inert)  # 28
    slope = m.const((m.rng.random(32) * 0.3).astype(np.float32))
    r2 = m.op("PReLU", [c2, slope], c2[2])
    gap = m.op("AvgPool", [r2], [1, 32, 1, 1], {
        "strides": "28, 28", "pads_begin": "0, 0", "pads_end": "0, 0", "kernel": "28, 28",
        "exclude-pad": "true", "rounding_type": "floor", "auto_pad": "explicit"})
    shape = m.const(np.array([1, 32], np.int64))
    flat = m.op("Reshape", [gap, shape], [1, 32], {"special_zero": "false"})
    fw = m.weights([32, 512], zero=inert)
    fc = m.op("MatMul", [flat, fw], [1, 512], {"transpose_a": "false", "transpose_b": "false"})
    b = m.const(m.rng.standard_normal([1, 512]).astype(np.float32))
    emb = m.op("Add", [fc, b], [1, 512], {"auto_broadcast": "numpy"})
    m.result(emb)
    m.write(os.path.join(out, name))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    coverage(out)
    embedder(out, "embedder_512", False)
    embedder(out, "inert_embedding_512", True)
    embedder(out, "unconvertible", False, unconvertible=True)


if __name__ == "__main__":
    main()
