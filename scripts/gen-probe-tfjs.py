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
- pyramid_ops.json: the operators of detectors' feature pyramids and heads (RetinaFace's
  frozen graph has each): an upsampling to a size computed from the neighbour's Shape,
  StridedSlice with an ellipsis, a new axis and a shrunk axis, Range, Fill and BroadcastTo.
- pyramid_nms.json: the same with NonMaxSuppressionV3 on its scores, whose result is its
  output: the converter leaves the suppression out and reads the boxes and scores before it.

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


def pyramid_ops(out_dir, size=32, nms=False):
    g = Graph()
    g.node("input", "Placeholder", [], dtype=FLOAT, shape=shape_attr([-1, size, size, 3]))
    g.const("w0", (rng.standard_normal((1, 1, 3, 8)) * 0.5).astype(np.float32))
    g.const("w1", (rng.standard_normal((3, 3, 3, 8)) * 0.5).astype(np.float32))
    g.node("big", "Conv2D", ["input", "w0"], **conv_attrs(1))
    g.node("small", "Conv2D", ["input", "w1"], **conv_attrs(2))
    # Upsample the small map to the big one's size, read at run time.
    g.node("shape", "Shape", ["big"], T=FLOAT, out_type=INT)
    g.const("b1", np.array([1], np.int32))
    g.const("e3", np.array([3], np.int32))
    g.const("s1", np.array([1], np.int32))
    g.node("hw", "StridedSlice", ["shape", "b1", "e3", "s1"], T=INT, Index=INT,
           begin_mask={"i": "0"}, end_mask={"i": "0"}, ellipsis_mask={"i": "0"},
           new_axis_mask={"i": "0"}, shrink_axis_mask={"i": "0"})
    g.node("up", "ResizeNearestNeighbor", ["small", "hw"], T=FLOAT,
           align_corners={"b": False}, half_pixel_centers={"b": True})
    g.node("sum", "AddV2", ["up", "big"], T=FLOAT)
    # sum[..., 0:4]
    g.const("eb", np.array([0, 0], np.int32))
    g.const("ee", np.array([0, 4], np.int32))
    g.const("es", np.array([1, 1], np.int32))
    g.node("first4", "StridedSlice", ["sum", "eb", "ee", "es"], T=FLOAT, Index=INT,
           begin_mask={"i": "0"}, end_mask={"i": "0"}, ellipsis_mask={"i": "1"},
           new_axis_mask={"i": "0"}, shrink_axis_mask={"i": "0"})
    # sum[:, tf.newaxis, ..., 5]
    g.const("nb", np.array([0, 0, 0, 5], np.int32))
    g.const("ne", np.array([0, 0, 0, 6], np.int32))
    g.const("ns", np.array([1, 1, 1, 1], np.int32))
    g.node("plane", "StridedSlice", ["sum", "nb", "ne", "ns"], T=FLOAT, Index=INT,
           begin_mask={"i": "1"}, end_mask={"i": "1"}, ellipsis_mask={"i": "4"},
           new_axis_mask={"i": "2"}, shrink_axis_mask={"i": "8"})
    # first4 * fill(0.5) + broadcast(range(4)).
    g.const("r0", np.array(0.0, np.float32))
    g.const("r4", np.array(4.0, np.float32))
    g.const("r1", np.array(1.0, np.float32))
    g.node("ramp", "Range", ["r0", "r4", "r1"], Tidx=FLOAT)
    g.const("dims", np.array([1, size, size, 4], np.int32))
    g.const("half", np.array(0.5, np.float32))
    g.node("halves", "Fill", ["dims", "half"], T=FLOAT, index_type=INT)
    g.node("ramps", "BroadcastTo", ["ramp", "dims"], T=FLOAT, Tidx=INT)
    g.node("scaled", "Mul", ["first4", "halves"], T=FLOAT)
    g.node("shifted", "AddV2", ["scaled", "ramps"], T=FLOAT)
    g.const("flat4", np.array([1, size * size * 4], np.int32))
    g.node("o1", "Reshape", ["shifted", "flat4"], T=FLOAT, Tshape=INT)
    g.const("flat1", np.array([1, size * size], np.int32))
    g.node("o2", "Reshape", ["plane", "flat1"], T=FLOAT, Tshape=INT)
    g.const("axis1", np.array(1, np.int32))
    g.node("out", "ConcatV2", ["o1", "o2", "axis1"], T=FLOAT, Tidx=INT, N={"i": "2"})
    if not nms:
        g.save(out_dir, "pyramid_ops", [-1, size, size, 3], "out", [-1, size * size * 5])
        return
    # Boxes and scores from the maps, then non-maximum suppression: post-processing.
    g.const("box_shape", np.array([size * size, 4], np.int32))
    g.node("boxes", "Reshape", ["first4", "box_shape"], T=FLOAT, Tshape=INT)
    g.node("scores", "Reshape", ["plane", "flat1"], T=FLOAT, Tshape=INT)
    g.const("sq", np.array([size * size], np.int32))
    g.node("scores1", "Reshape", ["scores", "sq"], T=FLOAT, Tshape=INT)
    g.const("keep", np.array(10, np.int32))
    g.const("iou", np.array(0.5, np.float32))
    g.const("min_score", np.array(-1e9, np.float32))
    g.node("nms", "NonMaxSuppressionV3", ["boxes", "scores1", "keep", "iou", "min_score"],
           T=FLOAT, T_threshold=FLOAT)
    g.node("kept", "GatherV2", ["boxes", "nms", "axis0"], Tparams=FLOAT, Tindices=INT, Taxis=INT,
           batch_dims={"i": "0"})
    g.const("axis0", np.array(0, np.int32))
    g.save(out_dir, "pyramid_nms", [-1, size, size, 3], "kept", [10, 4])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    heatmap_landmarks(sys.argv[1])
    inert_embedding(sys.argv[1])
    pyramid_ops(sys.argv[1])
    pyramid_ops(sys.argv[1], nms=True)
