#!/usr/bin/env python3
"""Writes small ONNX gait-recognition nets with the input and output shapes of published
architectures, plus one non-gait sequence model of similar size, for banwatch's tests.

These are GENERATED, not trained models: no public package ships a gait model, so the tests use
networks with the shapes of GaitSet (Chao et al., AAAI 2019: a set of T silhouettes of 64x44 ->
set pooling -> embedding), GaitGL (Lin et al., ICCV 2021: 3D convolutions over [N,1,T,64,44]) and
GaitBase (OpenGait, Fan et al., CVPR 2023: per-frame 2D backbone + temporal max pooling), with random
weights. The negative is an action-recognition-like clip model ([N,3,16,112,112] RGB -> 400 classes,
Kinetics-style), a sequence model that is not gait.

usage: gen-gait-models.py OUTDIR
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


def init(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.05, name)


def save(path, nodes, inp, out, inits, name):
    g = helper.make_graph(nodes, name, [inp], [out], inits)
    m = helper.make_model(g, producer_name="banwatch-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def gaitset(out_dir):
    # [N, T=30, 64, 44] silhouettes; frames share a 2D conv, then max over the set (T).
    inp = helper.make_tensor_value_info("silhouettes", TensorProto.FLOAT, ["N", 30, 64, 44])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 256])
    nodes = [
        helper.make_node("Unsqueeze", ["silhouettes", "axes1"], ["x5"]),  # N,1,T,64,44
        helper.make_node("Conv", ["x5", "w1"], ["c1"], kernel_shape=[1, 3, 3], pads=[0, 1, 1, 0, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("ReduceMax", ["r1"], ["setpool"], axes=[2], keepdims=0),  # N,16,64,44
        helper.make_node("GlobalAveragePool", ["setpool"], ["hpp"]),
        helper.make_node("Flatten", ["hpp"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["embedding"]),
    ]
    inits = [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes1"),
             init("w1", [16, 1, 1, 3, 3]), init("fc", [16, 256]), init("fcb", [256])]
    save(f"{out_dir}/gaitset_like.onnx", nodes, inp, out, inits, "GaitSet")


def gaitgl(out_dir):
    inp = helper.make_tensor_value_info("sils", TensorProto.FLOAT, ["N", 1, 30, 64, 44])
    out = helper.make_tensor_value_info("feat", TensorProto.FLOAT, ["N", 256])
    nodes = [
        helper.make_node("Conv", ["sils", "w1"], ["c1"], kernel_shape=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1]),
        helper.make_node("ReduceMax", ["c2"], ["tp"], axes=[2], keepdims=0),
        helper.make_node("GlobalMaxPool", ["tp"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["feat"]),
    ]
    inits = [init("w1", [16, 1, 3, 3, 3]), init("w2", [32, 16, 3, 3, 3]), init("fc", [32, 256]), init("fcb", [256])]
    save(f"{out_dir}/gaitgl_like.onnx", nodes, inp, out, inits, "GaitGL")


def gaitbase(out_dir):
    inp = helper.make_tensor_value_info("inputs", TensorProto.FLOAT, ["N", 1, 30, 64, 44])
    out = helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["N", 256])
    nodes = [
        helper.make_node("Conv", ["inputs", "w1"], ["c1"], kernel_shape=[1, 3, 3], pads=[0, 1, 1, 0, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[1, 3, 3], strides=[1, 2, 2], pads=[0, 1, 1, 0, 1, 1]),
        helper.make_node("ReduceMax", ["c2"], ["tp"], axes=[2], keepdims=0),
        helper.make_node("GlobalAveragePool", ["tp"], ["g1"]),
        helper.make_node("Flatten", ["g1"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["embeddings"]),
    ]
    inits = [init("w1", [32, 1, 1, 3, 3]), init("g", [32]), init("b", [32]), init("m", [32]),
             numpy_helper.from_array(np.ones(32, dtype=np.float32), "v"),
             init("w2", [64, 32, 1, 3, 3]), init("fc", [64, 256]), init("fcb", [256])]
    save(f"{out_dir}/gaitbase_like.onnx", nodes, inp, out, inits, "Baseline")


def action(out_dir):
    inp = helper.make_tensor_value_info("clip", TensorProto.FLOAT, ["N", 3, 16, 112, 112])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 400])
    nodes = [
        helper.make_node("Conv", ["clip", "w1"], ["c1"], kernel_shape=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"]),
    ]
    inits = [init("w1", [32, 3, 3, 3, 3]), init("fc", [32, 400]), init("fcb", [400])]
    save(f"{out_dir}/action_sequence_like.onnx", nodes, inp, out, inits, "R3D")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for f in (gaitset, gaitgl, gaitbase, action):
        f(sys.argv[1])
