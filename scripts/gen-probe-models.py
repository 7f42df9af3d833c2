#!/usr/bin/env python3
"""Writes small ONNX nets that test what banwatch's behavioural probe adds over structure.

GENERATED, not trained, models (random weights), built so that their *behaviour* is known by
construction:

- heatmap_landmarks_512.onnx: a heatmap-regression landmark net (conv -> 256 heatmaps ->
  spatial softmax -> expected x, y; the DSNT / soft-argmax head of published landmark nets) on a
  112x112 face crop with one flat [N, 512] output. Structurally it looks exactly like a
  recognition embedding (square face crop, flat 512 vector); behaviourally its output moves with
  the face, because convolution is shift-equivariant and soft-argmax reads positions. Its
  softmax is written out as Exp / ReduceSum / Div, as several exporters emit it, so no Softmax
  node gives it away. The probe must catch it: this is the hard negative.
- inert_embedding_512.onnx: a recognition-shaped net whose output ignores its input (an export
  with the input multiplied by zero, as broken converters produce). Structure calls it
  recognition; the probe sees a constant output and weakens the evidence.
- stride32_detector.onnx: an open input size that runs only at multiples of 32 (five poolings,
  a 32x upsampling added back to the input, as feature-pyramid detectors do): the probe must
  find a size it runs at instead of giving up at its 112-pixel default.
- sized_input_detector.onnx: three inputs as PaddleDetection exports them (`im_shape`,
  `image`, `scale_factor`; PaddleDetection deploy/EXPORT_MODEL.md). The image is reshaped to
  the height and width read from `im_shape`, so ONNX Runtime refuses the run unless `im_shape`
  holds the picture's own size; the pooled feature vector is multiplied by `scale_factor`, so
  the output is constant if the scale is given as zero. The probe must feed the picture to
  `image` and neutral values to the others.
- voice_activity_like.onnx: no picture at all, shaped as Silero VAD's export (`input`
  [batch, T], `state` [2, batch, 8], an int64 `sr`); its score is zero unless `sr` is 16000,
  so a live output shows the probe's run on drawn signals gave each input a fitting value.
- inert_sequence.onnx: no picture, and an output that ignores the input: the run on drawn
  signals must call it constant.

usage: gen-probe-models.py OUTDIR
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(11)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def save(path, nodes, inp, out, inits, name):
    save_graph(path, nodes, [inp], out, inits, name)


def save_graph(path, nodes, inputs, out, inits, name):
    g = helper.make_graph(nodes, name, inputs, [out], inits)
    m = helper.make_model(g, producer_name="banwatch-fixtures", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def heatmap_landmarks(out_dir, k=256, size=112):
    inp = helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, size, size])
    out = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 2 * k])
    hm = size // 4  # two stride-2 convs
    # Coordinates of each heatmap cell, in [0, 1].
    grid = (np.arange(hm, dtype=np.float32) + 0.5) / hm
    gx = np.tile(grid, hm).reshape(hm * hm, 1)
    gy = np.repeat(grid, hm).reshape(hm * hm, 1)
    inits = [
        const("w1", (rng.standard_normal((32, 3, 5, 5)) * 0.2).astype(np.float32)),
        const("b1", np.zeros(32, np.float32)),
        const("w2", (rng.standard_normal((k, 32, 5, 5)) * 0.2).astype(np.float32)),
        const("b2", np.zeros(k, np.float32)),
        const("flat_shape", np.array([0, k, hm * hm], np.int64)),
        const("gx", gx),
        const("gy", gy),
        const("temp", np.array(4.0, np.float32)),
        const("sum_axes", np.array([2], np.int64)),
        const("out_shape", np.array([0, 2 * k], np.int64)),
    ]
    nodes = [
        helper.make_node("Conv", ["data", "w1", "b1"], ["c1"], pads=[2, 2, 2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[2, 2, 2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["c2", "flat_shape"], ["hm"]),  # N, K, HW
        helper.make_node("Mul", ["hm", "temp"], ["hm_t"]),
        # Spatial softmax written out (Exp / ReduceSum), as several exporters emit it.
        helper.make_node("ReduceMax", ["hm_t"], ["mx"], axes=[2], keepdims=1),
        helper.make_node("Sub", ["hm_t", "mx"], ["hm_s"]),
        helper.make_node("Exp", ["hm_s"], ["e"]),
        helper.make_node("ReduceSum", ["e", "sum_axes"], ["es"], keepdims=1),
        helper.make_node("Div", ["e", "es"], ["p"]),
        helper.make_node("MatMul", ["p", "gx"], ["x"]),  # N, K, 1
        helper.make_node("MatMul", ["p", "gy"], ["y"]),
        helper.make_node("Concat", ["x", "y"], ["xy"], axis=2),  # N, K, 2 (interleaved)
        helper.make_node("Reshape", ["xy", "out_shape"], ["fc1"]),
    ]
    save(f"{out_dir}/heatmap_landmarks_512.onnx", nodes, inp, out, inits, "landmarks")


def inert_embedding(out_dir, size=112, d=512):
    inp = helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, size, size])
    out = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", d])
    inits = [
        const("w1", (rng.standard_normal((64, 3, 3, 3)) * 0.1).astype(np.float32)),
        const("zero", np.array(0.0, np.float32)),
        const("fc_w", (rng.standard_normal((64, d)) * 0.1).astype(np.float32)),
        const("bias", rng.standard_normal((1, d)).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Conv", ["data", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Mul", ["f", "zero"], ["f0"]),
        helper.make_node("MatMul", ["f0", "fc_w"], ["m"]),
        helper.make_node("Add", ["m", "bias"], ["fc1"]),
    ]
    save(f"{out_dir}/inert_embedding_512.onnx", nodes, inp, out, inits, "embedding")


def stride32_detector(out_dir):
    """A detector-shaped net with an open input size that runs only at multiples of 32, as
    feature-pyramid detectors do: five 2x2 max poolings, a nearest 32x upsampling, added back
    to the input (ONNX Runtime refuses the Add when the size does not divide by 32)."""
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])
    out = helper.make_tensor_value_info("score_map", TensorProto.FLOAT, [1, 3, "H", "W"])
    nodes, x = [], "image"
    for i in range(5):
        nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
        x = f"p{i}"
    inits = [const("scales", np.array([1, 1, 32, 32], np.float32))]
    nodes.append(helper.make_node("Resize", [x, "", "scales"], ["up"], mode="nearest"))
    nodes.append(helper.make_node("Add", ["image", "up"], ["score_map"]))
    save(f"{out_dir}/stride32_detector.onnx", nodes, inp, out, inits, "detector")


def sized_input_detector(out_dir):
    im_shape = helper.make_tensor_value_info("im_shape", TensorProto.FLOAT, ["N", 2])
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    scale = helper.make_tensor_value_info("scale_factor", TensorProto.FLOAT, ["N", 2])
    out = helper.make_tensor_value_info("feat", TensorProto.FLOAT, [1, 16])
    inits = [
        const("nc", np.array([1, 3], np.int64)),
        const("two", np.array([2], np.int64)),
        const("w1", (rng.standard_normal((16, 3, 3, 3)) * 0.2).astype(np.float32)),
        const("b1", (rng.standard_normal(16) * 0.1).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Cast", ["im_shape"], ["hw_i"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["hw_i", "two"], ["hw"]),
        helper.make_node("Concat", ["nc", "hw"], ["shape"], axis=0),
        helper.make_node("Reshape", ["image", "shape"], ["img"]),
        helper.make_node("Conv", ["img", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("ReduceMean", ["scale_factor"], ["s"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["f", "s"], ["feat"]),
    ]
    save_graph(f"{out_dir}/sized_input_detector.onnx", nodes, [im_shape, image, scale], out, inits, "sized")


def voice_activity_like(out_dir):
    """A graph that takes no picture, shaped as Silero VAD's ONNX export: `input` [batch, T]
    samples, `state` [2, batch, 8], `sr` an int64 scalar. Its score is a sigmoid of the
    samples' weighted mean times (sr == 16000): given any other rate it answers 0 whatever the
    samples, so a live output shows the run gave the rate and drew the samples."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "T"])
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 8])
    sr = helper.make_tensor_value_info("sr", TensorProto.INT64, [])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1])
    inits = [
        const("k", np.array(16000, np.int64)),
        const("gain", np.array(5.0, np.float32)),
    ]
    nodes = [
        helper.make_node("Sin", ["input"], ["s"]),
        helper.make_node("ReduceMean", ["s"], ["m"], axes=[1], keepdims=1),
        helper.make_node("ReduceSum", ["state"], ["st"], keepdims=0),
        helper.make_node("Add", ["m", "st"], ["ms"]),
        helper.make_node("Mul", ["ms", "gain"], ["mg"]),
        helper.make_node("Sigmoid", ["mg"], ["p"]),
        helper.make_node("Equal", ["sr", "k"], ["is16k"]),
        helper.make_node("Cast", ["is16k"], ["on"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["p", "on"], ["output"]),
    ]
    save_graph(f"{out_dir}/voice_activity_like.onnx", nodes, [x, state, sr], out, inits, "vad")


def inert_sequence(out_dir):
    """A graph that takes no picture and whose output ignores its input: a sequence [1, 64]
    multiplied by zero plus a bias (the inert export's hard negative, without a picture)."""
    inp = helper.make_tensor_value_info("tokens", TensorProto.FLOAT, [1, 64])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 8])
    inits = [
        const("zero", np.array(0.0, np.float32)),
        const("w", (rng.standard_normal((64, 8)) * 0.1).astype(np.float32)),
        const("bias", rng.standard_normal((1, 8)).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Mul", ["tokens", "zero"], ["z"]),
        helper.make_node("MatMul", ["z", "w"], ["m"]),
        helper.make_node("Add", ["m", "bias"], ["logits"]),
    ]
    save(f"{out_dir}/inert_sequence.onnx", nodes, inp, out, inits, "sequence")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    heatmap_landmarks(sys.argv[1])
    inert_embedding(sys.argv[1])
    stride32_detector(sys.argv[1])
    sized_input_detector(sys.argv[1])
    voice_activity_like(sys.argv[1])
    inert_sequence(sys.argv[1])
