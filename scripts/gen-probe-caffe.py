#!/usr/bin/env python3
"""Writes Caffe models for the probe's converter tests with numpy only: each as a deploy
`.prototxt` (text) and a trained `.caffemodel` (binary NetParameter with the layer parameters
and the weights, as Caffe's Net::ToProto writes it). Field numbers are BVLC Caffe's
src/caffe/proto/caffe.proto and, for Permute and Normalize, the SSD fork's.

  coverage        convolutions (grouped, dilated), deconvolution, BatchNorm + Scale, ReLU,
                  leaky ReLU, PReLU, max and average pooling (Caffe's rounding up), global
                  pooling, Eltwise sum with coefficients and max, Concat, LRN, Power, Sigmoid,
                  TanH, Permute, Normalize, Flatten, InnerProduct, Softmax, Dropout
  embedder_512    a small face embedder on a 112x112 crop (InnerProduct to 512)

LRN keeps k = 1: OpenCV ignores any other k, which Caffe and the converter apply.

usage: gen-probe-caffe.py OUT_DIR
"""
import os
import struct
import sys

import numpy as np

rng = np.random.default_rng(11)


def varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint((field << 3) | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def encode(fields):
    """fields: (number, kind, value) with kind v (varint), f (float), s (string), e (enum:
    (number, name)), b (bool), m (nested fields), packed-i (ints), packed-f (floats)."""
    out = b""
    for num, kind, val in fields:
        if kind in ("v", "b"):
            out += key(num, 0) + varint(int(val))
        elif kind == "e":
            out += key(num, 0) + varint(val[0])
        elif kind == "f":
            out += key(num, 5) + struct.pack("<f", val)
        elif kind == "s":
            out += ld(num, val.encode())
        elif kind == "m":
            out += ld(num, encode(val))
        elif kind == "packed-i":
            out += ld(num, b"".join(varint(int(x)) for x in val))
        elif kind == "packed-f":
            out += ld(num, np.asarray(val, np.float32).tobytes())
    return out


def text(fields, names, indent="  "):
    lines = []
    for num, kind, val in fields:
        n = names[num]
        if kind == "m":
            sub, subnames = val
            lines.append(f"{indent}{n} {{")
            lines += text(sub, subnames, indent + "  ")
            lines.append(f"{indent}}}")
        elif kind == "b":
            lines.append(f"{indent}{n}: {'true' if val else 'false'}")
        elif kind == "e":
            lines.append(f"{indent}{n}: {val[1]}")
        elif kind == "f":
            lines.append(f"{indent}{n}: {val!r}")
        elif kind == "s":
            lines.append(f'{indent}{n}: "{val}"')
        else:
            lines.append(f"{indent}{n}: {val}")
    return lines


# Parameter messages: layer field number, message name, and its fields' numbers by name.
PARAMS = {
    "convolution_param": (106, dict(num_output=1, bias_term=2, pad=3, kernel_size=4, group=5, stride=6, dilation=18)),
    "pooling_param": (121, dict(pool=1, kernel_size=2, stride=3, pad=4, global_pooling=12)),
    "inner_product_param": (117, dict(num_output=1, bias_term=2)),
    "batch_norm_param": (139, dict(use_global_stats=1, eps=3)),
    "scale_param": (142, dict(bias_term=4)),
    "relu_param": (123, dict(negative_slope=1)),
    "eltwise_param": (110, dict(operation=1, coeff=2)),
    "concat_param": (104, dict(axis=2)),
    "softmax_param": (125, dict(axis=2)),
    "lrn_param": (118, dict(local_size=1, alpha=2, beta=3, k=5)),
    "power_param": (122, dict(power=1, scale=2, shift=3)),
    "permute_param": (202, dict(order=1)),
    "norm_param": (206, dict(across_spatial=1, channel_shared=3, eps=4)),
    "flatten_param": (135, dict(axis=1)),
}


class Net:
    def __init__(self, name, size):
        self.name, self.size = name, size
        self.layers = []

    def add(self, kind, name, bottoms, tops, blobs=(), **params):
        self.layers.append((kind, name, list(bottoms), list(tops), [np.asarray(b, np.float32) for b in blobs], params))
        return tops[0] if tops else None

    def write(self, out):
        proto = [f'name: "{self.name}"', 'input: "data"',
                 f"input_shape {{ dim: 1 dim: 3 dim: {self.size} dim: {self.size} }}"]
        model = encode([(1, "s", self.name), (3, "s", "data"),
                        (8, "m", [(1, "packed-i", [1, 3, self.size, self.size])])])
        for kind, name, bottoms, tops, blobs, params in self.layers:
            fields = [(1, "s", name), (2, "s", kind)]
            fields += [(3, "s", b) for b in bottoms] + [(4, "s", t) for t in tops]
            tfields = list(fields)
            for pname, values in params.items():
                num, names = PARAMS[pname]
                sub = []
                for k, v in values.items():
                    vals = v if isinstance(v, list) else [v]
                    for x in vals:
                        if isinstance(x, tuple):
                            sub.append((names[k], "e", x))
                        elif isinstance(x, bool):
                            sub.append((names[k], "b", x))
                        elif isinstance(x, float):
                            sub.append((names[k], "f", x))
                        else:
                            sub.append((names[k], "v", x))
                fields.append((num, "m", sub))
                tfields.append((num, "m", (sub, {n: k for k, n in names.items()})))
            bl = [(7, "m", [(7, "m", [(1, "packed-i", list(b.shape))]), (5, "packed-f", b.ravel())]) for b in blobs]
            model += ld(100, encode(fields + bl))
            names = {1: "name", 2: "type", 3: "bottom", 4: "top"}
            names.update({num: p for p, (num, _) in PARAMS.items()})
            proto.append("layer {")
            proto += text(tfields, names)
            proto.append("}")
        with open(os.path.join(out, self.name + ".prototxt"), "w") as f:
            f.write("\n".join(proto) + "\n")
        with open(os.path.join(out, self.name + ".caffemodel"), "wb") as f:
            f.write(model)


def w(*shape, s=0.3):
    return rng.standard_normal(shape).astype(np.float32) * s


def u(n, lo, hi):
    return rng.uniform(lo, hi, n).astype(np.float32)


def coverage(out):
    n = Net("coverage", 40)
    n.add("Convolution", "conv1", ["data"], ["conv1"], [w(8, 3, 3, 3), w(8)],
          convolution_param=dict(num_output=8, kernel_size=3, stride=2, pad=1))
    n.add("BatchNorm", "bn1", ["conv1"], ["conv1"], [u(8, -0.5, 0.5) * 2, u(8, 0.5, 2.0) * 2, [2.0]],
          batch_norm_param=dict(use_global_stats=True, eps=1e-3))
    n.add("Scale", "sc1", ["conv1"], ["conv1"], [u(8, 0.5, 1.5), w(8)], scale_param=dict(bias_term=True))
    n.add("ReLU", "relu1", ["conv1"], ["conv1"])
    n.add("Convolution", "dw", ["conv1"], ["dw"], [w(8, 1, 3, 3), w(8)],
          convolution_param=dict(num_output=8, kernel_size=3, pad=2, dilation=2, group=8))
    n.add("PReLU", "prelu", ["dw"], ["dw"], [u(8, 0.0, 0.3)])
    n.add("Eltwise", "sum", ["dw", "conv1"], ["sum"], eltwise_param=dict(operation=(1, "SUM"), coeff=[0.5, 1.0]))
    n.add("Pooling", "maxpool", ["sum"], ["pool1"], pooling_param=dict(pool=(0, "MAX"), kernel_size=3, stride=2))
    n.add("LRN", "lrn", ["pool1"], ["lrn"], lrn_param=dict(local_size=3, alpha=1e-2, beta=0.75))
    n.add("Convolution", "conv2", ["lrn"], ["conv2"], [w(16, 8, 1, 1), w(16)],
          convolution_param=dict(num_output=16, kernel_size=1))
    n.add("ReLU", "leaky", ["conv2"], ["conv2"], relu_param=dict(negative_slope=0.1))
    n.add("Convolution", "conv3", ["lrn"], ["conv3"], [w(16, 8, 1, 1), w(16)],
          convolution_param=dict(num_output=16, kernel_size=1))
    n.add("Sigmoid", "sig", ["conv3"], ["conv3"])
    n.add("Eltwise", "max", ["conv2", "conv3"], ["mx"], eltwise_param=dict(operation=(2, "MAX")))
    n.add("Concat", "cat", ["mx", "conv2"], ["cat"], concat_param=dict(axis=1))
    n.add("Pooling", "avgpool", ["cat"], ["pool2"], pooling_param=dict(pool=(1, "AVE"), kernel_size=2, stride=2))
    n.add("Deconvolution", "up", ["pool2"], ["up"], [w(32, 4, 4, 4), w(4)],
          convolution_param=dict(num_output=4, kernel_size=4, stride=2, pad=1))
    n.add("TanH", "tanh", ["up"], ["map"])
    n.add("Permute", "perm", ["cat"], ["perm"], permute_param=dict(order=[0, 2, 3, 1]))
    n.add("Flatten", "flat_perm", ["perm"], ["flat_perm"], flatten_param=dict(axis=1))
    n.add("Normalize", "norm", ["cat"], ["norm"], [u(32, 1.0, 2.0)],
          norm_param=dict(across_spatial=False, channel_shared=False, eps=1e-10))
    n.add("Power", "pow", ["norm"], ["pow"], power_param=dict(power=2.0, scale=0.5, shift=1.0))
    n.add("Pooling", "gap", ["pow"], ["gap"], pooling_param=dict(pool=(1, "AVE"), global_pooling=True))
    n.add("Dropout", "drop", ["gap"], ["gap"])
    n.add("InnerProduct", "fc", ["gap"], ["fc"], [w(10, 32), w(10)], inner_product_param=dict(num_output=10))
    n.add("Softmax", "prob", ["fc"], ["prob"])
    n.write(out)


def embedder(out):
    n = Net("embedder_512", 112)
    n.add("Convolution", "conv1", ["data"], ["c1"], [w(16, 3, 3, 3), w(16)],
          convolution_param=dict(num_output=16, kernel_size=3, stride=2, pad=1))
    n.add("ReLU", "r1", ["c1"], ["c1"])
    n.add("Convolution", "conv2", ["c1"], ["c2"], [w(32, 16, 3, 3, s=0.1), w(32)],
          convolution_param=dict(num_output=32, kernel_size=3, stride=2, pad=1))
    n.add("PReLU", "p2", ["c2"], ["c2"], [u(32, 0.0, 0.3)])
    n.add("Pooling", "gap", ["c2"], ["g"], pooling_param=dict(pool=(1, "AVE"), global_pooling=True))
    n.add("InnerProduct", "fc", ["g"], ["embedding"], [w(512, 32), w(512)], inner_product_param=dict(num_output=512))
    n.write(out)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    coverage(out)
    embedder(out)


if __name__ == "__main__":
    main()
