#!/usr/bin/env python3
"""Writes the behavioural probe's hard negatives as TF.js graph models (model.json + one .bin
shard), with numpy only: the GraphDef nodes in JSON as tfjs-converter writes them (NodeDef
attrs with base64 strings) and a float32 weights manifest.

GENERATED, not trained, models (random weights), the same two as gen-probe-models.py (ONNX) and
gen-probe-tflite.py (TFLite):

- heatmap_landmarks_512.json: convolutions -> 256 heatmaps -> spatial softmax written out ->
  expected x, y, on a 112x112 face crop with one flat [1, 512] output. Structure calls it
  recognition; its output moves with the face. Plain Conv2D + BiasAdd + Relu, Transpose,
  Reshape, Max/Sub/Exp/Sum/RealDiv, MatMul, ConcatV2.
- inert_embedding_512.json: a recognition-shaped net whose output ignores its input, with
  tfjs-converter's fused ops (_FusedConv2D with BiasAdd and Relu, _FusedMatMul with BiasAdd).

usage: gen-probe-tfjs.py OUTDIR
"""
import base64
import json
import sys

import numpy as np

rng = np.random.default_rng(13)


def s(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def ints(*values):
    return {"list": {"i": [str(v) for v in values]}}


def shape_attr(dims):
    return {"shape": {"dim": [{"size": str(d)} for d in dims]}}


FLOAT = {"type": "DT_FLOAT"}
INT = {"type": "DT_INT32"}


class Graph:
    def __init__(self):
        self.nodes = []
        self.weights = []
        self.data = []

    def const(self, name, arr):
        arr = np.ascontiguousarray(arr)
        dtype = "float32" if arr.dtype == np.float32 else "int32"
        self.nodes.append({"name": name, "op": "Const", "attr": {
            "dtype": FLOAT if dtype == "float32" else INT,
            "value": {"tensor": {"dtype": "DT_FLOAT" if dtype == "float32" else "DT_INT32",
                                 "tensorShape": shape_attr(arr.shape)["shape"]}}}})
        self.weights.append({"name": name, "shape": list(arr.shape), "dtype": dtype})
        self.data.append(arr.astype(np.float32 if dtype == "float32" else np.int32).tobytes())
        return name

    def node(self, name, op, inputs, **attr):
        self.nodes.append({"name": name, "op": op, "input": list(inputs), "attr": attr})
        return name

    def save(self, out_dir, stem, input_shape, output, output_shape):
        model = {
            "format": "graph-model",
            "generatedBy": "banwatch gen-probe-tfjs.py",
            "convertedBy": "banwatch gen-probe-tfjs.py",
            "signature": {
                "inputs": {"input:0": {"name": "input:0", "dtype": "DT_FLOAT",
                                       "tensorShape": shape_attr(input_shape)["shape"]}},
                "outputs": {f"{output}:0": {"name": f"{output}:0", "dtype": "DT_FLOAT",
                                            "tensorShape": shape_attr(output_shape)["shape"]}},
            },
            "modelTopology": {"node": self.nodes, "library": {}, "versions": {}},
            "weightsManifest": [{"paths": [f"{stem}.bin"], "weights": self.weights}],
        }
        with open(f"{out_dir}/{stem}.json", "w") as f:
            json.dump(model, f)
        with open(f"{out_dir}/{stem}.bin", "wb") as f:
            f.write(b"".join(self.data))


def conv_attrs(stride):
    return dict(T=FLOAT, strides=ints(1, stride, stride, 1), padding=s("SAME"),
                data_format=s("NHWC"), dilations=ints(1, 1, 1, 1), explicit_paddings={"list": {}},
                use_cudnn_on_gpu={"b": True})


def heatmap_landmarks(out_dir, k=256, size=112):
    g = Graph()
    g.node("input", "Placeholder", [], dtype=FLOAT, shape=shape_attr([-1, size, size, 3]))
    hm = size // 4
    g.const("w1", (rng.standard_normal((5, 5, 3, 32)) * 0.2).astype(np.float32))
    g.const("b1", np.zeros(32, np.float32))
    g.const("w2", (rng.standard_normal((5, 5, 32, k)) * 0.2).astype(np.float32))
    g.const("b2", np.zeros(k, np.float32))
    g.node("c1", "Conv2D", ["input", "w1"], **conv_attrs(2))
    g.node("a1", "BiasAdd", ["c1", "b1"], T=FLOAT, data_format=s("NHWC"))
    g.node("r1", "Relu", ["a1"], T=FLOAT)
    g.node("c2", "Conv2D", ["r1", "w2"], **conv_attrs(2))
    g.node("a2", "BiasAdd", ["c2", "b2"], T=FLOAT, data_format=s("NHWC"))
    g.const("perm", np.array([0, 3, 1, 2], np.int32))
    g.node("t", "Transpose", ["a2", "perm"], T=FLOAT, Tperm=INT)
    g.const("flat_shape", np.array([1, k, hm * hm], np.int32))
    g.node("flat", "Reshape", ["t", "flat_shape"], T=FLOAT, Tshape=INT)
    g.const("temp", np.array(4.0, np.float32))
    g.node("hm", "Mul", ["flat", "temp"], T=FLOAT)
    # Spatial softmax written out, as several exporters emit it.
    g.const("axis2", np.array([2], np.int32))
    g.node("mx", "Max", ["hm", "axis2"], T=FLOAT, Tidx=INT, keep_dims={"b": True})
    g.node("sub", "Sub", ["hm", "mx"], T=FLOAT)
    g.node("e", "Exp", ["sub"], T=FLOAT)
    g.node("es", "Sum", ["e", "axis2"], T=FLOAT, Tidx=INT, keep_dims={"b": True})
    g.node("p", "RealDiv", ["e", "es"], T=FLOAT)
    g.const("p_shape", np.array([k, hm * hm], np.int32))
    g.node("p2", "Reshape", ["p", "p_shape"], T=FLOAT, Tshape=INT)
    grid = (np.arange(hm, dtype=np.float32) + 0.5) / hm
    g.const("gx", np.tile(grid, hm).reshape(hm * hm, 1))
    g.const("gy", np.repeat(grid, hm).reshape(hm * hm, 1))
    g.node("x", "MatMul", ["p2", "gx"], T=FLOAT, transpose_a={"b": False}, transpose_b={"b": False})
    g.node("y", "MatMul", ["p2", "gy"], T=FLOAT, transpose_a={"b": False}, transpose_b={"b": False})
    g.const("axis1", np.array(1, np.int32))
    g.node("xy", "ConcatV2", ["x", "y", "axis1"], T=FLOAT, Tidx=INT, N={"i": "2"})
    g.const("out_shape", np.array([1, 2 * k], np.int32))
    g.node("out", "Reshape", ["xy", "out_shape"], T=FLOAT, Tshape=INT)
    g.save(out_dir, "heatmap_landmarks_512", [-1, size, size, 3], "out", [-1, 2 * k])


def inert_embedding(out_dir, size=112, d=512):
    g = Graph()
    g.node("input", "Placeholder", [], dtype=FLOAT, shape=shape_attr([-1, size, size, 3]))
    g.const("w1", (rng.standard_normal((3, 3, 3, 64)) * 0.1).astype(np.float32))
    g.const("b1", np.zeros(64, np.float32))
    g.node("c1", "_FusedConv2D", ["input", "w1", "b1"], **conv_attrs(2), num_args={"i": "1"},
           fused_ops={"list": {"s": [s("BiasAdd")["s"], s("Relu")["s"]]}}, epsilon={"f": 0})
    g.const("axes", np.array([1, 2], np.int32))
    g.node("g", "Mean", ["c1", "axes"], T=FLOAT, Tidx=INT, keep_dims={"b": False})
    g.const("zero", np.array(0.0, np.float32))
    g.node("z", "Mul", ["g", "zero"], T=FLOAT)
    g.const("fc_w", (rng.standard_normal((64, d)) * 0.1).astype(np.float32))
    g.const("fc_b", rng.standard_normal(d).astype(np.float32))
    g.node("out", "_FusedMatMul", ["z", "fc_w", "fc_b"], T=FLOAT, num_args={"i": "1"},
           fused_ops={"list": {"s": [s("BiasAdd")["s"]]}}, transpose_a={"b": False},
           transpose_b={"b": False}, epsilon={"f": 0})
    g.save(out_dir, "inert_embedding_512", [-1, size, size, 3], "out", [-1, d])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    heatmap_landmarks(sys.argv[1])
    inert_embedding(sys.argv[1])
