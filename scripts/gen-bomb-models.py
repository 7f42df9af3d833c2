#!/usr/bin/env python3
"""Writes tiny hostile ONNX graphs that ask the runtime for gigabytes (issue: resource bombs).

Each is a few hundred bytes, takes a float input shaped like a face crop (so the probe would
run it) and asks for 2 Gi float32 elements (8 GiB):

- constant_of_shape_init.onnx: ConstantOfShape whose shape is an int64 initializer.
- constant_of_shape_node.onnx: the same shape from a `Constant` node.
- expand_node.onnx: Expand of a scalar to that shape.
- computed_shape.onnx: the shape is computed at run time (Concat of two constants, then Mul),
  so no static reading of the graph sees the size: only the worker's memory limit stops it.

usage: gen-bomb-models.py OUTDIR
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPE = [2, 1024, 1024, 1024]


def save(path, nodes, inits):
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 112, 112])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, SHAPE)
    # The input reaches the output, so the graph is a plausible single-input net.
    nodes = nodes + [
        helper.make_node("ReduceSum", ["input"], ["s"], keepdims=0),
        helper.make_node("Add", ["big", "s"], ["output"]),
    ]
    g = helper.make_graph(nodes, "bomb", [inp], [out], inits)
    m = helper.make_model(g, producer_name="banwatch-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main(out_dir):
    shape = numpy_helper.from_array(np.array(SHAPE, dtype=np.int64), "shape")
    save(f"{out_dir}/constant_of_shape_init.onnx",
         [helper.make_node("ConstantOfShape", ["shape"], ["big"])], [shape])
    save(f"{out_dir}/constant_of_shape_node.onnx",
         [helper.make_node("Constant", [], ["shape"], value=shape),
          helper.make_node("ConstantOfShape", ["shape"], ["big"])], [])
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    save(f"{out_dir}/expand_node.onnx",
         [helper.make_node("Constant", [], ["shape"], value=shape),
          helper.make_node("Expand", ["one", "shape"], ["big"])], [one])
    a = numpy_helper.from_array(np.array([1, 1024], dtype=np.int64), "a")
    b = numpy_helper.from_array(np.array([1024, 1024], dtype=np.int64), "b")
    two = numpy_helper.from_array(np.array([2, 1, 1, 1], dtype=np.int64), "two")
    save(f"{out_dir}/computed_shape.onnx",
         [helper.make_node("Concat", ["a", "b"], ["ab"], axis=0),
          helper.make_node("Mul", ["ab", "two"], ["shape"]),
          helper.make_node("ConstantOfShape", ["shape"], ["big"])], [a, b, two])


if __name__ == "__main__":
    main(sys.argv[1])
