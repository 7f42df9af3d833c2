#!/usr/bin/env python3
"""Writes the small pickle fixtures of src/decode/models/joblib.rs (committed in
tests/data/pickle/; rerun only to change them). Needs joblib, lz4 and numpy.

- list.joblib, list.z, list.gz, list.lz4: joblib.dump of a list of three float32 arrays
  (3x3x3x10, 10, 1x1x32x2: the shapes of an MTCNN P-Net's first and last layers), raw and with
  joblib's zlib, gzip and LZ4 compressors.
- dict.lz4: a nested dict whose keys are layer names and a person's name (which must never be
  read back), LZ4-compressed.
- numpy.pkl: pickle.dump (protocol 4) of a dict of a float array and an object array.
- object.joblib: joblib.dump of an object array followed by a float array.
- pnet.lz4, onet.lz4, mtcnn_weights.npy: MTCNN-shaped zero weights, see the end.
- embedding.lz4, classifier.lz4: a conv backbone ending in an embedding or a classifier.
- expression.keras, scikeras.pkl: a Keras 3 zip, alone and as the bytes of a pickled array.

usage: gen-pickle-fixtures.py OUTDIR
"""
import os
import pickle
import sys

import joblib
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
w = [np.ones((3, 3, 3, 10), np.float32), np.zeros((10,), np.float32),
     np.ones((1, 1, 32, 2), np.float32)]
joblib.dump(w, os.path.join(out, "list.joblib"))
for name, comp in [("list.z", "zlib"), ("list.gz", "gzip"), ("list.lz4", "lz4")]:
    joblib.dump(w, os.path.join(out, name), compress=(comp, 3))
joblib.dump({"conv1": {"weights": w[0], "biases": w[1]},
             "Maria Lopez": np.ones((128,), np.float32)},
            os.path.join(out, "dict.lz4"), compress=("lz4", 3))
with open(os.path.join(out, "numpy.pkl"), "wb") as f:
    pickle.dump({"w": np.ones((4, 8), np.float32),
                 "names": np.array(["a", "b"], dtype=object)}, f, protocol=4)
joblib.dump([np.array(["a", "b"], dtype=object), np.zeros((5, 5), np.float64)],
            os.path.join(out, "object.joblib"))

# MTCNN-shaped weights (zeros) as packages ship them: joblib LZ4 lists in Keras order (P-Net,
# O-Net), and an old-style np.save of a nested dict (allow_pickle).
z = lambda *s: np.zeros(s, np.float32)


def conv(kh, kw, i, o, prelu=True):
    return [z(kh, kw, i, o), z(o)] + ([z(1, 1, o)] if prelu else [])


def dense(i, o, prelu=False):
    return [z(i, o), z(o)] + ([z(o)] if prelu else [])


pnet = conv(3, 3, 3, 10) + conv(3, 3, 10, 16) + conv(3, 3, 16, 32) \
    + conv(1, 1, 32, 2, False) + conv(1, 1, 32, 4, False)
onet = conv(3, 3, 3, 32) + conv(3, 3, 32, 64) + conv(3, 3, 64, 64) + conv(2, 2, 64, 128) \
    + dense(1152, 256, True) + dense(256, 2) + dense(256, 4) + dense(256, 10)
joblib.dump(pnet, os.path.join(out, "pnet.lz4"), compress=("lz4", 3))
joblib.dump(onet, os.path.join(out, "onet.lz4"), compress=("lz4", 3))
np.save(os.path.join(out, "mtcnn_weights.npy"), {
    "pnet": {"conv1": {"weights": z(3, 3, 3, 10), "biases": z(10)},
             "conv4-1": {"weights": z(1, 1, 32, 2), "biases": z(2)},
             "conv4-2": {"weights": z(1, 1, 32, 4), "biases": z(4)}},
    "onet": {"conv6-1": {"weights": z(256, 2), "biases": z(2)},
             "conv6-2": {"weights": z(256, 4), "biases": z(4)},
             "conv6-3": {"weights": z(256, 10), "biases": z(10)}}}, allow_pickle=True)

# A backbone of eight convolutions ending in a dense 1792 -> 128 bottleneck (an embedding, as
# FaceNet's), and its nearest negative ending in a 10-way classifier.
backbone = conv(3, 3, 3, 32, False) + sum((conv(3, 3, 32, 32, False) for _ in range(7)), [])
joblib.dump(backbone + dense(32, 1792) + dense(1792, 128),
            os.path.join(out, "embedding.lz4"), compress=("lz4", 3))
joblib.dump(backbone + dense(32, 1792) + dense(1792, 10),
            os.path.join(out, "classifier.lz4"), compress=("lz4", 3))

# A Keras 3 `.keras` zip (config.json, metadata.json, model.weights.h5 placeholder) of a grey
# 96x96 five-class expression net, alone and as scikeras pickles it: the bytes of the zip in a
# uint8 array, dumped by joblib.
import io
import json
import zipfile

layers = [
    {"module": "keras.layers", "class_name": "InputLayer",
     "config": {"batch_shape": [None, 96, 96, 1], "name": "input_layer"}},
    {"module": "keras.layers", "class_name": "Conv2D",
     "config": {"name": "conv2d", "filters": 32, "kernel_size": [3, 3]}},
    {"module": "keras.layers", "class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
    {"module": "keras.layers", "class_name": "Dense",
     "config": {"name": "dense", "units": 5, "activation": "softmax"}},
]
config = {"module": "keras", "class_name": "Sequential",
          "config": {"name": "sequential", "layers": layers}}
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
    z.writestr("config.json", json.dumps(config))
    z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
with open(os.path.join(out, "expression.keras"), "wb") as f:
    f.write(buf.getvalue())
joblib.dump(np.frombuffer(buf.getvalue(), np.uint8), os.path.join(out, "scikeras.pkl"))
