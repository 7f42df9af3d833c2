#!/usr/bin/env python3
"""Writes Keras-style HDF5 files with h5py (HDF5's own library) and, beside them, expected.json:
what each file holds, for banwatch's HDF5 reader to be checked against.

GENERATED, not trained (random weights). The layouts are the ones Keras writes
(keras/saving/legacy/hdf5_format.py: `save_weights_to_hdf5_group`, `save_model_to_hdf5`):
root attributes `backend`, `keras_version`, `layer_names`; one group per layer with a
`weight_names` attribute; each weight at `<layer>/<layer>/<name>:0`.

- embedder_weights.h5: weights only (`model.save_weights`), HDF5's default (earliest) format:
  superblock 0, symbol-table groups. Twelve conv + batch-norm blocks, global pooling, then a
  dense 128 -> 128 bottleneck with nothing after it: a recognition-shaped embedding. One extra
  group holds 300 small datasets, so its B-tree has more than one level.
- headpose_weights.h5: weights only, a conv backbone and three parallel dense heads from the
  same pooled features: 120 yaw bins and 66 pitch and roll bins, as WHENet (Zhou & Gregson 2020,
  arXiv:2005.10353) and Hopenet (Ruiz et al. 2018, 66 bins) have them.
- classifier_weights.h5: the nearest negative: the same backbone ending in a dense 1280 -> 1000
  ImageNet classifier.
- full_model_latest.h5: a whole model (`model.save`) written with libver="latest": superblock
  3, version-2 object headers, link messages, `model_config` as a variable-length string; one
  group with 12 links (dense storage, which the reader notes and skips), a gzip-chunked dataset
  (shape read, contents not) and a compact dataset.

usage: gen-keras-h5.py OUTDIR
"""
import json
import sys

import h5py
import numpy as np

rng = np.random.default_rng(5)


def weights_file(path, layers, libver="earliest", extra=None):
    """layers: [(layer name, [(weight name, array)])]; returns the expected description."""
    expected = {"datasets": {}, "root_attributes": {}}
    with h5py.File(path, "w", libver=libver) as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.4.0"
        f.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        expected["root_attributes"] = {
            "backend": ["tensorflow"],
            "keras_version": ["2.4.0"],
            "layer_names": [n for n, _ in layers],
        }
        for name, weights in layers:
            g = f.create_group(name)
            g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in weights])
            for w, arr in weights:
                ds_path = f"{name}/{name}/{w}:0"
                f.create_dataset(ds_path, data=arr)
                expected["datasets"][ds_path] = describe(arr)
        if extra:
            extra(f, expected)
    return expected


def describe(arr, readable=True):
    flat = arr.reshape(-1)
    return {
        "shape": list(arr.shape),
        "dtype": str(arr.dtype),
        "first": [float(x) for x in flat[:4]],
        "readable": readable,
    }


def conv_bn(i, cin, cout, k=3):
    return [
        (f"conv2d_{i}", [("kernel", (rng.standard_normal((k, k, cin, cout)) * 0.1).astype(np.float32))]),
        (
            f"batch_normalization_{i}",
            [
                ("gamma", np.ones(cout, np.float32)),
                ("beta", np.zeros(cout, np.float32)),
                ("moving_mean", (rng.standard_normal(cout) * 0.01).astype(np.float32)),
                ("moving_variance", np.ones(cout, np.float32)),
            ],
        ),
    ]


def backbone(blocks, width):
    layers = [("input_1", [])]
    cin = 3
    for i in range(1, blocks + 1):
        layers += conv_bn(i, cin, width)
        cin = width
    layers.append(("global_average_pooling2d_1", []))
    return layers


def dense(name, n_in, n_out):
    return (
        name,
        [
            ("kernel", (rng.standard_normal((n_in, n_out)) * 0.05).astype(np.float32)),
            ("bias", np.zeros(n_out, np.float32)),
        ],
    )


def many(f, expected):
    g = f.create_group("many")
    for i in range(300):
        arr = np.full((2,), i, np.int32)
        g.create_dataset(f"d{i:03}", data=arr)
        expected["datasets"][f"many/d{i:03}"] = describe(arr)


def full_model(path):
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 64, 64, 3], "name": "input_1"}},
                {"class_name": "Conv2D", "config": {"name": "conv2d_1", "filters": 8, "kernel_size": [3, 3]}},
                {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
                {"class_name": "Dense", "config": {"name": "dense_1", "units": 7, "activation": "softmax"}},
            ],
        },
    }
    expected = {"datasets": {}, "root_attributes": {}, "notes": ["dense storage"]}
    with h5py.File(path, "w", libver="latest") as f:
        # A Python str is stored as a variable-length UTF-8 string.
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        expected["root_attributes"] = {"model_config": [json.dumps(config)], "keras_version": ["2.15.0"]}
        w = f.create_group("model_weights")
        w.attrs["layer_names"] = np.array([b"conv2d_1", b"dense_1"])
        for path_, arr in [
            ("model_weights/conv2d_1/conv2d_1/kernel:0", (rng.standard_normal((3, 3, 3, 8)) * 0.1).astype(np.float32)),
            ("model_weights/dense_1/dense_1/kernel:0", (rng.standard_normal((8, 7)) * 0.1).astype(np.float64)),
            ("model_weights/dense_1/dense_1/bias:0", np.arange(7, dtype=np.float16)),
        ]:
            f.create_dataset(path_, data=arr)
            expected["datasets"][path_] = describe(arr)
        big = f.create_group("dense_group")
        for i in range(12):
            big.create_dataset(f"x{i}", data=np.zeros(1, np.float32))
        arr = (rng.standard_normal((64, 32)) * 0.1).astype(np.float32)
        f.create_dataset("chunked", data=arr, chunks=(16, 32), compression="gzip")
        expected["datasets"]["chunked"] = describe(arr, readable=False)
        arr = np.arange(6, dtype=np.int64).reshape(2, 3)
        space = h5py.h5s.create_simple(arr.shape)
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(h5py.h5d.COMPACT)
        dset = h5py.h5d.create(f.id, b"compact", h5py.h5t.STD_I64LE, space, plist)
        dset.write(h5py.h5s.ALL, h5py.h5s.ALL, arr)
        expected["datasets"]["compact"] = describe(arr)
    return expected


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    expected = {
        "embedder_weights.h5": weights_file(
            f"{out}/embedder_weights.h5", backbone(12, 128) + [dense("dense_1", 128, 128)], extra=many
        ),
        "headpose_weights.h5": weights_file(
            f"{out}/headpose_weights.h5",
            backbone(10, 64)
            + [dense("yaw_new", 64, 120), dense("pitch_new", 64, 66), dense("roll_new", 64, 66)],
        ),
        "classifier_weights.h5": weights_file(
            f"{out}/classifier_weights.h5", backbone(10, 64) + [dense("dense_1", 64, 1000)]
        ),
        "full_model_latest.h5": full_model(f"{out}/full_model_latest.h5"),
    }
    with open(f"{out}/expected.json", "w") as f:
        json.dump(expected, f, indent=1)
