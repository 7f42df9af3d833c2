#!/usr/bin/env python3
"""Writes NCNN models (.param text + .bin weights) for the probe's converter tests, with numpy
only: random weights, fixed seeds. The files follow ncnn's own reader (src/net.cpp,
src/paramdict.cpp, src/modelbin.cpp; parameter ids from docs/developer-guide/operators.md).

  coverage.param/.bin       most layer types the converter translates, float32 and float16
                            weights, a squeeze-and-excitation block (ncnn's per-channel
                            broadcast of a vector), two outputs
  heads.param/.bin          a detector-like head: Permute, Reshape, Softmax over the last
                            axis, Concat of matrices, nearest and bicubic Interp, Deconvolution,
                            Padding, MemoryData
  embedder_512.param/.bin   a small face embedder on a 112x112 crop: convolutions, global pooling, InnerProduct
                            to 512, Normalize (L2)
  inert_embedding_512       the same shape, every weight zero but a bias: one output for any
                            picture (an inert export)
  heatmap_landmarks_512     the hard negative of gen-probe-models.py in NCNN form: convolutions
                            -> 256 heatmaps -> softmax over each map -> expected x, y (MatMul
                            with a grid) -> one flat 512 vector on a 112x112 crop. Structure
                            calls it recognition; its output moves with the face
  unconvertible             a recognition-shaped net with a CumulativeSum, which the converter
                            does not translate: the report must name it

usage: gen-probe-ncnn.py OUT_DIR
"""
import os
import struct
import sys

import numpy as np

FP16_TAG = 0x01306B47


class Model:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.layers = []
        self.blobs = set()
        self.bin = bytearray()

    def layer(self, kind, name, bottoms, tops, params=""):
        self.layers.append(
            f"{kind:<24} {name:<16} {len(bottoms)} {len(tops)} {' '.join(bottoms + tops)} {params}".rstrip()
        )
        self.blobs.update(bottoms)
        self.blobs.update(tops)

    def weights(self, n, fp16=False, scale=0.3, zero=False):
        """A tagged load (ncnn type 0)."""
        w = np.zeros(n, np.float32) if zero else (self.rng.standard_normal(n) * scale).astype(np.float32)
        if fp16:
            h = w.astype(np.float16)
            self.bin += struct.pack("<I", FP16_TAG) + h.tobytes()
            if len(h.tobytes()) % 4:
                self.bin += b"\0\0"
        else:
            self.bin += struct.pack("<I", 0) + w.tobytes()

    def raw(self, values):
        """An untagged load (ncnn type 1)."""
        self.bin += np.asarray(values, np.float32).tobytes()

    def rand(self, n, lo=-0.5, hi=0.5):
        return self.rng.uniform(lo, hi, n).astype(np.float32)

    def write(self, path):
        text = f"7767517\n{len(self.layers)} {len(self.blobs)}\n" + "\n".join(self.layers) + "\n"
        with open(path + ".param", "w") as f:
            f.write(text)
        with open(path + ".bin", "wb") as f:
            f.write(self.bin)


def conv(m, name, x, y, cin, cout, k=3, extra="", fp16=False, bias=True, group=1):
    size = cout * (cin // group) * k * k
    kind = "ConvolutionDepthWise" if group > 1 else "Convolution"
    g = f" 7={group}" if group > 1 else ""
    m.layer(kind, name, [x], [y], f"0={cout} 1={k} 5={int(bias)} 6={size}{g} {extra}".strip())
    m.weights(size, fp16=fp16)
    if bias:
        m.raw(m.rand(cout))


def coverage(out):
    m = Model(1)
    m.layer("Input", "input", [], ["data"], "0=48 1=40 2=3")
    conv(m, "conv1", "data", "c1", 3, 8, extra="3=2 13=2 4=1 9=1")
    m.layer("Split", "split1", ["c1"], ["c1a", "c1b"])
    conv(m, "dw1", "c1a", "d1", 8, 8, extra="4=1 9=2 -23310=1,1.000000e-01", fp16=True, group=8)
    m.layer("BatchNorm", "bn1", ["d1"], ["b1"], "0=8 1=1.000000e-03")
    m.raw(m.rand(8, 0.5, 1.5))
    m.raw(m.rand(8))
    m.raw(m.rand(8, 0.5, 2.0))
    m.raw(m.rand(8))
    m.layer("Scale", "scale1", ["b1"], ["s1"], "0=8 1=1")
    m.raw(m.rand(8, 0.5, 1.5))
    m.raw(m.rand(8))
    m.layer("PReLU", "prelu1", ["s1"], ["p1"], "0=8")
    m.raw(m.rand(8, 0.0, 0.3))
    m.layer("Eltwise", "add1", ["p1", "c1b"], ["e1"], "0=1 -23301=2,5.000000e-01,1.000000e+00")
    conv(m, "conv2", "e1", "c2", 8, 16, k=1, extra="9=3 -23310=2,0.000000e+00,6.000000e+00")
    m.layer("HardSwish", "hs", ["c2"], ["h2"], "0=1.666667e-01 1=5.000000e-01")
    m.layer("Pooling", "maxpool", ["h2"], ["m1"], "0=0 1=3 2=2 3=1 5=0")
    m.layer("Split", "split2", ["m1"], ["m1a", "m1b", "m1c"])
    # Squeeze and excitation: a vector of per-channel scales times the map.
    m.layer("Pooling", "gap", ["m1a"], ["g1"], "0=1 4=1")
    m.layer("InnerProduct", "fc1", ["g1"], ["f1"], "0=4 1=1 2=64 9=1")
    m.weights(64)
    m.raw(m.rand(4))
    m.layer("InnerProduct", "fc2", ["f1"], ["f2"], "0=16 1=1 2=64 9=4")
    m.weights(64)
    m.raw(m.rand(16))
    m.layer("BinaryOp", "se", ["m1b", "f2"], ["se1"], "0=2")
    m.layer("Swish", "swish", ["se1"], ["sw1"])
    m.layer("Pooling", "avgpool", ["m1c"], ["a1"], "0=1 1=2 2=1 3=1 5=1 6=0")
    m.layer("Interp", "down", ["a1"], ["a2"], "0=2 3=11 4=13")
    m.layer("Concat", "cat", ["sw1", "a2"], ["cat1"], "0=0")
    m.layer("Interp", "up", ["cat1"], ["u1"], "0=2 1=2.000000e+00 2=2.000000e+00")
    conv(m, "conv3", "u1", "c3", 32, 12, extra="2=2 12=2 4=2 9=5")
    m.layer("PixelShuffle", "ps", ["c3"], ["px"], "0=2")
    m.layer("Sigmoid", "sig", ["px"], ["map"])
    m.layer("Flatten", "flat", ["a2"], ["fl"])
    m.layer("InnerProduct", "emb", ["fl"], ["e"], "0=32 1=0 2=73216")
    m.weights(73216, fp16=True, scale=0.05)
    m.layer("ReLU", "leaky", ["e"], ["e2"], "0=2.000000e-01")
    m.layer("Clip", "clip", ["e2"], ["e3"], "0=-1.000000e+00 1=1.000000e+00")
    m.layer("BinaryOp", "plus", ["e3"], ["e4"], "0=7 1=1 2=2.500000e-01")
    m.layer("TanH", "tanh", ["e4"], ["vec"])
    m.write(os.path.join(out, "coverage"))


def heads(out):
    m = Model(2)
    m.layer("Input", "input", [], ["data"], "0=32 1=24 2=3")
    conv(m, "conv1", "data", "c1", 3, 8, extra="4=1 3=2 9=1")
    m.layer("Split", "split", ["c1"], ["c1a", "c1b", "c1c", "c1d"])
    conv(m, "cls", "c1a", "cl", 8, 4, k=1)
    m.layer("Permute", "perm", ["cl"], ["clp"], "0=3")
    m.layer("Reshape", "rs", ["clp"], ["clr"], "0=2 1=-1")
    m.layer("Softmax", "sm", ["clr"], ["scores"], "0=1 1=1")
    conv(m, "box", "c1b", "bx", 8, 8, k=1)
    m.layer("Permute", "perm2", ["bx"], ["bxp"], "0=3")
    m.layer("Reshape", "rs2", ["bxp"], ["bxr"], "0=4 1=-1")
    m.layer("MemoryData", "anchors", [], ["anc"], "0=4 1=384")
    m.raw(m.rand(4 * 384))
    m.layer("BinaryOp", "decode", ["bxr", "anc"], ["boxes"], "0=0")
    m.layer("Concat", "cat", ["scores", "boxes"], ["det"], "0=1")
    m.layer("Padding", "pad", ["c1c"], ["pd"], "0=1 1=2 2=0 3=1 4=0 5=2.500000e-01")
    m.layer("Interp", "near", ["pd"], ["nr"], "0=1 1=2.000000e+00 2=2.000000e+00")
    m.layer("Interp", "cubic", ["c1d"], ["cb"], "0=3 1=1.500000e+00 2=1.500000e+00")
    m.layer("Deconvolution", "deconv", ["cb"], ["dc"], "0=6 1=4 3=2 4=1 5=1 6=768 9=1 18=1 19=1")
    m.weights(768)
    m.raw(m.rand(6))
    m.layer("Pooling", "pool", ["nr"], ["np"], "0=1 1=3 2=3 5=1")
    m.layer("Permute", "perm3", ["np"], ["npp"], "0=1")
    m.layer("Eltwise", "maxe", ["npp", "npp"], ["mx"], "0=2")
    m.layer("Reshape", "flat", ["mx"], ["flat1"], "0=-1")
    m.layer("Normalize", "norm", ["flat1"], ["normed"], "0=1 1=1 2=1.000000e-10 3=1 4=1 9=0")
    m.raw([2.0])
    m.layer("Normalize", "chan", ["dc"], ["dn"], "0=0 1=0 2=1.000000e-04 3=6 4=1 9=0")
    m.raw(m.rand(6, 0.5, 1.5))
    m.layer("UnaryOp", "sq", ["dn"], ["dsq"], "0=4")
    m.write(os.path.join(out, "heads"))


def embedder(out, name, inert):
    m = Model(3)
    m.layer("Input", "input", [], ["data"], "0=112 1=112 2=3")
    z = dict(zero=inert)
    m.layer("Convolution", "conv1", ["data"], ["c1"], "0=16 1=3 3=2 4=1 5=1 6=432 9=1")
    m.weights(432, **z)
    m.raw(m.rand(16))
    m.layer("ConvolutionDepthWise", "dw", ["c1"], ["d1"], "0=16 1=3 3=2 4=1 5=1 6=144 7=16 9=1")
    m.weights(144, **z)
    m.raw(m.rand(16))
    m.layer("Convolution", "pw", ["d1"], ["p1"], "0=32 1=1 5=1 6=512")
    m.weights(512, **z)
    m.raw(m.rand(32))
    m.layer("PReLU", "prelu", ["p1"], ["r1"], "0=32")
    m.raw(m.rand(32, 0.0, 0.3))
    m.layer("Pooling", "gap", ["r1"], ["g"], "0=1 4=1")
    m.layer("InnerProduct", "fc", ["g"], ["fc"], "0=512 1=1 2=16384")
    m.weights(16384, **z)
    m.raw(m.rand(512))
    m.layer("Normalize", "l2", ["fc"], ["embedding"], "0=1 1=1 2=1.000000e-10 3=1 4=1 9=1")
    m.raw([1.0])
    m.write(os.path.join(out, name))


def heatmap_landmarks(out, k=256, size=112):
    m = Model(4)
    hm = size // 4
    m.layer("Input", "input", [], ["data"], f"0={size} 1={size} 2=3")
    m.layer("Convolution", "conv1", ["data"], ["c1"], "0=32 1=5 3=2 4=2 5=1 6=2400 9=1")
    m.weights(2400, scale=0.2)
    m.raw(m.rand(32))
    m.layer("Convolution", "conv2", ["c1"], ["c2"], f"0={k} 1=5 3=2 4=2 5=1 6={k * 32 * 25}")
    m.weights(k * 32 * 25, scale=0.05)
    m.raw(m.rand(k))
    m.layer("Reshape", "maps", ["c2"], ["flat"], f"0={hm * hm} 1={k}")
    m.layer("BinaryOp", "temp", ["flat"], ["hot"], "0=2 1=1 2=4.000000e+00")
    m.layer("Softmax", "spatial", ["hot"], ["p"], "0=1 1=1")
    grid = (np.arange(hm, dtype=np.float32) + 0.5) / hm
    xy = np.stack([np.tile(grid, hm), np.repeat(grid, hm)], axis=1)  # (hm*hm, 2)
    m.layer("MemoryData", "grid", [], ["g"], f"0=2 1={hm * hm}")
    m.raw(xy.reshape(-1))
    m.layer("MatMul", "expect", ["p", "g"], ["xy"])
    m.layer("Reshape", "out", ["xy"], ["landmarks"], f"0={2 * k}")
    m.write(os.path.join(out, "heatmap_landmarks_512"))


def unconvertible(out, d=128):
    m = Model(5)
    m.layer("Input", "input", [], ["data"], "0=112 1=112 2=3")
    m.layer("Convolution", "conv1", ["data"], ["c1"], "0=16 1=3 3=2 4=1 5=1 6=432 9=1")
    m.weights(432)
    m.raw(m.rand(16))
    m.layer("Pooling", "gap", ["c1"], ["g"], "0=1 4=1")
    m.layer("InnerProduct", "fc", ["g"], ["f"], f"0={d} 1=0 2={16 * d}")
    m.weights(16 * d)
    m.layer("CumulativeSum", "cumsum", ["f"], ["embedding"], "0=0")
    m.write(os.path.join(out, "unconvertible"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    coverage(out)
    heads(out)
    embedder(out, "embedder_512", False)
    embedder(out, "inert_embedding_512", True)
    heatmap_landmarks(out)
    unconvertible(out)


if __name__ == "__main__":
    main()
