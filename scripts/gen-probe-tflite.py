#!/usr/bin/env python3
"""Writes small TFLite models for banwatch's TFLite -> ONNX converter and behavioural probe.

GENERATED, not trained, models (random weights), written with the FlatBuffers builder and the
schema's generated Python (the `tflite` package: tensorflow/lite/schema/schema.fbs), so no
TensorFlow is needed:

- coverage.tflite: one graph through the operators and options the converter translates:
  convolutions (strided, dilated, depthwise, transposed), pooling, padding (constant, mirror),
  resizing (bilinear with half-pixel centres, nearest), concatenation, strided slices with
  masks, split, pack/unpack, reductions, fully connected with fp16 weights behind DEQUANTIZE,
  int8 per-channel weights behind DEQUANTIZE and sparse weights behind DENSIFY, and the usual
  activations. tests/tflite_conversion.rs converts it and compares ONNX Runtime's outputs with
  LiteRT's (Google's TFLite runtime) on the same input.
- heatmap_landmarks_512.tflite: the hard negative of gen-probe-models.py in TFLite form: a
  heatmap landmark net (convolutions -> 256 heatmaps -> spatial softmax written out ->
  expected x, y) on a 112x112 face crop with one flat [1, 512] output. Structure calls it
  recognition; its output moves with the face, and the probe must say so.
- inert_embedding_512.tflite: a recognition-shaped net whose output ignores its input.
- unconvertible.tflite: a recognition-shaped net with a CUMSUM after its first convolution,
  which the converter does not translate; most of the graph depends on it, so it is not
  post-processing to leave out: the report must name the operator.

usage: gen-probe-tflite.py OUTDIR
"""
import importlib
import sys

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator as Op
from tflite.TensorType import TensorType as TT

rng = np.random.default_rng(7)
NUMPY_TYPE = {
    np.dtype(np.float32): TT.FLOAT32,
    np.dtype(np.float16): TT.FLOAT16,
    np.dtype(np.int32): TT.INT32,
    np.dtype(np.int64): TT.INT64,
    np.dtype(np.int8): TT.INT8,
}


def mod(name):
    # The package re-exports each table's class under the module's name: import the module.
    return importlib.import_module(f"tflite.{name}")


class Net:
    """A single-subgraph TFLite model under construction."""

    def __init__(self):
        self.buffers = [None]
        self.tensors = []
        self.ops = []
        self.codes = []

    def tensor(self, shape, ttype=TT.FLOAT32, data=None, quant=None, sparsity=None):
        buf = 0
        if data is not None:
            self.buffers.append(data)
            buf = len(self.buffers) - 1
        self.tensors.append(dict(shape=list(shape), type=ttype, buffer=buf, quant=quant, sparsity=sparsity))
        return len(self.tensors) - 1

    def const(self, arr, quant=None):
        arr = np.ascontiguousarray(arr)
        return self.tensor(arr.shape, NUMPY_TYPE[arr.dtype], arr.tobytes(), quant)

    def op(self, code, ins, out_shapes, options=None, custom=None):
        key = (code, custom)
        if key not in self.codes:
            self.codes.append(key)
        outs = [self.tensor(s) for s in out_shapes]
        self.ops.append(dict(code=self.codes.index(key), ins=list(ins), outs=outs, options=options))
        return outs[0] if len(outs) == 1 else outs

    # Common layers.
    def conv(self, x, cin, cout, k, stride=1, padding=0, act=0, dilation=1, shape=None):
        w = self.const((rng.standard_normal((cout, k, k, cin)) * (1.0 / np.sqrt(k * k * cin))).astype(np.float32))
        b = self.const((rng.standard_normal(cout) * 0.1).astype(np.float32))
        return self.op(Op.CONV_2D, [x, w, b], [shape], ("Conv2DOptions", dict(
            Padding=padding, StrideW=stride, StrideH=stride, FusedActivationFunction=act,
            DilationWFactor=dilation, DilationHFactor=dilation)))

    def save(self, path, inputs, outputs, description="banwatch generated model"):
        b = flatbuffers.Builder(1 << 16)

        def ivec(values, width=4):
            b.StartVector(width, len(values), width)
            for v in reversed(values):
                (b.PrependInt32 if width == 4 else b.PrependInt64)(int(v))
            return b.EndVector()

        def fvec(values):
            b.StartVector(4, len(values), 4)
            for v in reversed(values):
                b.PrependFloat32(float(v))
            return b.EndVector()

        def bytevec(data, align=16):
            b.StartVector(1, len(data), align)
            b.head = b.head - len(data)
            b.Bytes[b.head:b.head + len(data)] = data
            return b.EndVector()

        def table(name, fields):
            m = mod(name)
            prepared = {}
            for f, v in fields.items():
                if isinstance(v, list):
                    prepared[f] = ivec(v)
            getattr(m, f"{name}Start")(b)
            for f, v in fields.items():
                getattr(m, f"{name}Add{f}")(b, prepared.get(f, v))
            return getattr(m, f"{name}End")(b)

        buffers = []
        for data in self.buffers:
            d = bytevec(data) if data else None
            mod("Buffer").BufferStart(b)
            if d is not None:
                mod("Buffer").BufferAddData(b, d)
            buffers.append(mod("Buffer").BufferEnd(b))
        tensors = []
        for i, t in enumerate(self.tensors):
            name = b.CreateString(f"t{i}")
            shape = ivec(t["shape"])
            q = None
            if t["quant"]:
                scale, zp, dim = t["quant"]
                s, z = fvec(scale), ivec(zp, 8)
                mod("QuantizationParameters").QuantizationParametersStart(b)
                mod("QuantizationParameters").QuantizationParametersAddScale(b, s)
                mod("QuantizationParameters").QuantizationParametersAddZeroPoint(b, z)
                mod("QuantizationParameters").QuantizationParametersAddQuantizedDimension(b, dim)
                q = mod("QuantizationParameters").QuantizationParametersEnd(b)
            sp = None
            if t["sparsity"]:
                order, dims = t["sparsity"]
                metas = []
                for d in dims:
                    if d[0] == "dense":
                        metas.append(table("DimensionMetadata", dict(Format=0, DenseSize=d[1])))
                    else:
                        seg = table("Int32Vector", dict(Values=list(d[1])))
                        idx = table("Int32Vector", dict(Values=list(d[2])))
                        metas.append(table("DimensionMetadata", dict(
                            Format=1, ArraySegmentsType=1, ArraySegments=seg,
                            ArrayIndicesType=1, ArrayIndices=idx)))
                mod("SparsityParameters").SparsityParametersStartDimMetadataVector(b, len(metas))
                for m in reversed(metas):
                    b.PrependUOffsetTRelative(m)
                dm = b.EndVector()
                to = ivec(order)
                mod("SparsityParameters").SparsityParametersStart(b)
                mod("SparsityParameters").SparsityParametersAddTraversalOrder(b, to)
                mod("SparsityParameters").SparsityParametersAddDimMetadata(b, dm)
                sp = mod("SparsityParameters").SparsityParametersEnd(b)
            mod("Tensor").TensorStart(b)
            mod("Tensor").TensorAddShape(b, shape)
            mod("Tensor").TensorAddType(b, t["type"])
            mod("Tensor").TensorAddBuffer(b, t["buffer"])
            mod("Tensor").TensorAddName(b, name)
            if q is not None:
                mod("Tensor").TensorAddQuantization(b, q)
            if sp is not None:
                mod("Tensor").TensorAddSparsity(b, sp)
            tensors.append(mod("Tensor").TensorEnd(b))
        ops = []
        for o in self.ops:
            opt = None
            if o["options"]:
                oname, fields = o["options"]
                opt = (getattr(mod("BuiltinOptions").BuiltinOptions, oname), table(oname, fields))
            ins, outs = ivec(o["ins"]), ivec(o["outs"])
            mod("Operator").OperatorStart(b)
            mod("Operator").OperatorAddOpcodeIndex(b, o["code"])
            mod("Operator").OperatorAddInputs(b, ins)
            mod("Operator").OperatorAddOutputs(b, outs)
            if opt:
                mod("Operator").OperatorAddBuiltinOptionsType(b, opt[0])
                mod("Operator").OperatorAddBuiltinOptions(b, opt[1])
            ops.append(mod("Operator").OperatorEnd(b))
        codes = []
        for code, custom in self.codes:
            c = b.CreateString(custom) if custom else None
            mod("OperatorCode").OperatorCodeStart(b)
            mod("OperatorCode").OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            mod("OperatorCode").OperatorCodeAddBuiltinCode(b, code)
            mod("OperatorCode").OperatorCodeAddVersion(b, 1)
            if c is not None:
                mod("OperatorCode").OperatorCodeAddCustomCode(b, c)
            codes.append(mod("OperatorCode").OperatorCodeEnd(b))

        def offvec(items):
            b.StartVector(4, len(items), 4)
            for it in reversed(items):
                b.PrependUOffsetTRelative(it)
            return b.EndVector()

        tv, ov, gi, go = offvec(tensors), offvec(ops), ivec(inputs), ivec(outputs)
        sgname = b.CreateString("main")
        mod("SubGraph").SubGraphStart(b)
        mod("SubGraph").SubGraphAddTensors(b, tv)
        mod("SubGraph").SubGraphAddInputs(b, gi)
        mod("SubGraph").SubGraphAddOutputs(b, go)
        mod("SubGraph").SubGraphAddOperators(b, ov)
        mod("SubGraph").SubGraphAddName(b, sgname)
        sg = mod("SubGraph").SubGraphEnd(b)
        sgv, cv, bv = offvec([sg]), offvec(codes), offvec(buffers)
        desc = b.CreateString(description)
        mod("Model").ModelStart(b)
        mod("Model").ModelAddVersion(b, 3)
        mod("Model").ModelAddOperatorCodes(b, cv)
        mod("Model").ModelAddSubgraphs(b, sgv)
        mod("Model").ModelAddDescription(b, desc)
        mod("Model").ModelAddBuffers(b, bv)
        b.Finish(mod("Model").ModelEnd(b), file_identifier=b"TFL3")
        with open(path, "wb") as f:
            f.write(b.Output())


def coverage(out_dir):
    n = Net()
    x = n.tensor([1, 32, 32, 3])
    # Convolutions: strided SAME with RELU6, dilated VALID, depthwise with multiplier 2.
    c1 = n.conv(x, 3, 8, 3, stride=2, padding=0, act=3, shape=[1, 16, 16, 8])
    c2 = n.conv(c1, 8, 8, 3, padding=0, act=1, dilation=2, shape=[1, 16, 16, 8])
    dw = n.const((rng.standard_normal((1, 3, 3, 16)) * 0.3).astype(np.float32))
    dwb = n.const(np.zeros(16, np.float32))
    d1 = n.op(Op.DEPTHWISE_CONV_2D, [c2, dw, dwb], [[1, 16, 16, 16]], ("DepthwiseConv2DOptions", dict(
        Padding=0, StrideW=1, StrideH=1, DepthMultiplier=2, FusedActivationFunction=0)))
    h = n.op(Op.HARD_SWISH, [d1], [[1, 16, 16, 16]])
    # Padding and pooling.
    pads = n.const(np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    p1 = n.op(Op.PAD, [h, pads], [[1, 18, 18, 16]])
    m1 = n.op(Op.MAX_POOL_2D, [p1], [[1, 9, 9, 16]], ("Pool2DOptions", dict(
        Padding=1, StrideW=2, StrideH=2, FilterWidth=2, FilterHeight=2)))
    a1 = n.op(Op.AVERAGE_POOL_2D, [m1], [[1, 9, 9, 16]], ("Pool2DOptions", dict(
        Padding=0, StrideW=1, StrideH=1, FilterWidth=3, FilterHeight=3)))
    mp = n.op(Op.MIRROR_PAD, [a1, pads], [[1, 11, 11, 16]], ("MirrorPadOptions", dict(Mode=0)))
    # Resizing both ways, joined on channels.
    size = n.const(np.array([22, 22], np.int32))
    r1 = n.op(Op.RESIZE_BILINEAR, [mp, size], [[1, 22, 22, 16]], ("ResizeBilinearOptions", dict(HalfPixelCenters=True)))
    r2 = n.op(Op.RESIZE_NEAREST_NEIGHBOR, [mp, size], [[1, 22, 22, 16]], ("ResizeNearestNeighborOptions", dict()))
    cat = n.op(Op.CONCATENATION, [r1, r2], [[1, 22, 22, 32]], ("ConcatenationOptions", dict(Axis=3)))
    # PReLU and leaky ReLU, elementwise with constants.
    alpha = n.const(np.full((1, 1, 32), 0.25, np.float32))
    pr = n.op(Op.PRELU, [cat, alpha], [[1, 22, 22, 32]])
    lr = n.op(Op.LEAKY_RELU, [pr], [[1, 22, 22, 32]], ("LeakyReluOptions", dict(Alpha=0.1)))
    k = n.const(np.linspace(0.5, 1.5, 32).astype(np.float32))
    mu = n.op(Op.MUL, [lr, k], [[1, 22, 22, 32]], ("MulOptions", dict(FusedActivationFunction=0)))
    # Transposed convolution back up, fp16 weights behind DEQUANTIZE.
    wt16 = n.const((rng.standard_normal((8, 3, 3, 32)) * 0.1).astype(np.float16))
    wt = n.op(Op.DEQUANTIZE, [wt16], [[8, 3, 3, 32]])
    osh = n.const(np.array([1, 44, 44, 8], np.int32))
    tc = n.op(Op.TRANSPOSE_CONV, [osh, wt, mu], [[1, 44, 44, 8]], ("TransposeConvOptions", dict(
        Padding=0, StrideW=2, StrideH=2)))
    # Strided slice with begin/end masks and a shrunk axis, then a split.
    begin = n.const(np.array([0, 2, 0, 1], np.int32))
    end = n.const(np.array([1, 40, 0, 7], np.int32))
    strides = n.const(np.array([1, 2, 1, 1], np.int32))
    ss = n.op(Op.STRIDED_SLICE, [tc, begin, end, strides], [[19, 44, 6]], ("StridedSliceOptions", dict(
        BeginMask=0b0100, EndMask=0b0100, ShrinkAxisMask=0b0001)))
    axis = n.const(np.array(2, np.int32).reshape(()))
    s1, s2 = n.op(Op.SPLIT, [axis, ss], [[19, 44, 3], [19, 44, 3]], ("SplitOptions", dict(NumSplits=2)))
    packed = n.op(Op.PACK, [s1, s2], [[19, 44, 2, 3]], ("PackOptions", dict(ValuesCount=2, Axis=2)))
    sg = n.op(Op.LOGISTIC, [packed], [[19, 44, 2, 3]])
    red_axes = n.const(np.array([0, 1], np.int32))
    mean = n.op(Op.MEAN, [sg, red_axes], [[2, 3]], ("ReducerOptions", dict(KeepDims=False)))
    # Global features: mean over space, then fully connected layers with stored weights.
    sp_axes = n.const(np.array([1, 2], np.int32))
    g = n.op(Op.MEAN, [mu, sp_axes], [[1, 32]], ("ReducerOptions", dict(KeepDims=False)))
    # int8 per-channel weights, dequantized.
    wq = rng.integers(-127, 128, (16, 32)).astype(np.int8)
    scales = (rng.random(16) * 0.02 + 0.005).astype(np.float32)
    wqi = n.const(wq, quant=(scales, np.zeros(16, np.int64), 0))
    wdq = n.op(Op.DEQUANTIZE, [wqi], [[16, 32]])
    fb = n.const(np.zeros(16, np.float32))
    f1 = n.op(Op.FULLY_CONNECTED, [g, wdq, fb], [[1, 16]], ("FullyConnectedOptions", dict(FusedActivationFunction=1)))
    f1 = n.op(Op.TANH, [f1], [[1, 16]])
    # Sparse weights behind DENSIFY: a 10 x 16 matrix with three non-zeros a row.
    dense = np.zeros((10, 16), np.float32)
    segs, idxs, vals = [0], [], []
    for r in range(10):
        cols = sorted(rng.choice(16, 3, replace=False))
        for c in cols:
            v = float(rng.standard_normal())
            dense[r, c] = v
            idxs.append(int(c))
            vals.append(v)
        segs.append(len(idxs))
    sw = n.tensor([10, 16], TT.FLOAT32, np.array(vals, np.float32).tobytes(),
                  sparsity=([0, 1], [("dense", 10), ("csr", segs, idxs)]))
    wd = n.op(Op.DENSIFY, [sw], [[10, 16]])
    f2 = n.op(Op.FULLY_CONNECTED, [f1, wd, -1], [[1, 10]], ("FullyConnectedOptions", dict()))
    sm = n.op(Op.SOFTMAX, [f2], [[1, 10]], ("SoftmaxOptions", dict(Beta=1.0)))
    l2 = n.op(Op.L2_NORMALIZATION, [f1], [[1, 16]], ("L2NormOptions", dict()))
    shape = n.const(np.array([4, 4], np.int32))
    rs = n.op(Op.RESHAPE, [l2, shape], [[4, 4]], ("ReshapeOptions", dict(NewShape=[4, 4])))
    tr = n.op(Op.TRANSPOSE, [rs, n.const(np.array([1, 0], np.int32))], [[4, 4]])
    n.save(f"{out_dir}/coverage.tflite", [x], [sm, tr, mean])


def heatmap_landmarks(out_dir, k=256, size=112):
    n = Net()
    x = n.tensor([1, size, size, 3])
    hm = size // 4
    c1 = n.conv(x, 3, 32, 5, stride=2, act=1, shape=[1, size // 2, size // 2, 32])
    c2 = n.conv(c1, 32, k, 5, stride=2, shape=[1, hm, hm, k])
    t = n.op(Op.TRANSPOSE, [c2, n.const(np.array([0, 3, 1, 2], np.int32))], [[1, k, hm, hm]])
    flat = n.op(Op.RESHAPE, [t, n.const(np.array([1, k, hm * hm], np.int32))], [[1, k, hm * hm]],
                ("ReshapeOptions", dict(NewShape=[1, k, hm * hm])))
    temp = n.op(Op.MUL, [flat, n.const(np.array([4.0], np.float32))], [[1, k, hm * hm]], ("MulOptions", dict()))
    # Spatial softmax written out, as several exporters emit it.
    ax = n.const(np.array([2], np.int32))
    mx = n.op(Op.REDUCE_MAX, [temp, ax], [[1, k, 1]], ("ReducerOptions", dict(KeepDims=True)))
    sub = n.op(Op.SUB, [temp, mx], [[1, k, hm * hm]], ("SubOptions", dict()))
    e = n.op(Op.EXP, [sub], [[1, k, hm * hm]])
    es = n.op(Op.SUM, [e, ax], [[1, k, 1]], ("ReducerOptions", dict(KeepDims=True)))
    p = n.op(Op.DIV, [e, es], [[1, k, hm * hm]], ("DivOptions", dict()))
    grid = (np.arange(hm, dtype=np.float32) + 0.5) / hm
    gx = np.tile(grid, hm).reshape(1, hm * hm)
    gy = np.repeat(grid, hm).reshape(1, hm * hm)
    xs = n.op(Op.FULLY_CONNECTED, [p, n.const(gx), -1], [[1, k, 1]], ("FullyConnectedOptions", dict(KeepNumDims=True)))
    ys = n.op(Op.FULLY_CONNECTED, [p, n.const(gy), -1], [[1, k, 1]], ("FullyConnectedOptions", dict(KeepNumDims=True)))
    xy = n.op(Op.CONCATENATION, [xs, ys], [[1, k, 2]], ("ConcatenationOptions", dict(Axis=2)))
    out = n.op(Op.RESHAPE, [xy, n.const(np.array([1, 2 * k], np.int32))], [[1, 2 * k]],
               ("ReshapeOptions", dict(NewShape=[1, 2 * k])))
    n.save(f"{out_dir}/heatmap_landmarks_512.tflite", [x], [out])


def inert_embedding(out_dir, size=112, d=512):
    n = Net()
    x = n.tensor([1, size, size, 3])
    c1 = n.conv(x, 3, 64, 3, stride=2, act=1, shape=[1, size // 2, size // 2, 64])
    g = n.op(Op.MEAN, [c1, n.const(np.array([1, 2], np.int32))], [[1, 64]], ("ReducerOptions", dict()))
    z = n.op(Op.MUL, [g, n.const(np.array([0.0], np.float32))], [[1, 64]], ("MulOptions", dict()))
    w = n.const((rng.standard_normal((d, 64)) * 0.1).astype(np.float32))
    bias = n.const(rng.standard_normal(d).astype(np.float32))
    out = n.op(Op.FULLY_CONNECTED, [z, w, bias], [[1, d]], ("FullyConnectedOptions", dict()))
    n.save(f"{out_dir}/inert_embedding_512.tflite", [x], [out])


def unconvertible(out_dir, size=112, d=128):
    n = Net()
    x = n.tensor([1, size, size, 3])
    c1 = n.conv(x, 3, 16, 3, stride=2, act=1, shape=[1, size // 2, size // 2, 16])
    # Early, so that most of the graph depends on it: not post-processing to leave out.
    c2 = n.op(Op.CUMSUM, [c1, n.const(np.array(1, np.int32).reshape(()))],
              [[1, size // 2, size // 2, 16]], ("CumsumOptions", dict()))
    g = n.op(Op.MEAN, [c2, n.const(np.array([1, 2], np.int32))], [[1, 16]], ("ReducerOptions", dict()))
    w = n.const((rng.standard_normal((d, 16)) * 0.1).astype(np.float32))
    out = n.op(Op.FULLY_CONNECTED, [g, w, -1], [[1, d]], ("FullyConnectedOptions", dict()))
    n.save(f"{out_dir}/unconvertible.tflite", [x], [out])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    coverage(sys.argv[1])
    heatmap_landmarks(sys.argv[1])
    inert_embedding(sys.argv[1])
    unconvertible(sys.argv[1])
