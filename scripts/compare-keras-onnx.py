#!/usr/bin/env python3
"""Runs a Keras HDF5 model in Keras itself (Keras 3, JAX backend, `keras.models.load_model`) and
its ONNX conversion by banwatch in ONNX Runtime on the same random input, and prints one JSON
object: every output's name, shape and largest error relative to the output's largest value.

The input shape is the model's, open dimensions taken as 1 (batch) or 64. Exit code 0 when
every Keras output has an ONNX output of as many values; 1 otherwise.

usage: compare-keras-onnx.py MODEL.h5 MODEL.onnx [SEED] [--trust-lambda]
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from compare_outputs import report, run_onnx  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if a != "--trust-lambda"]
    if len(args) not in (2, 3):
        sys.exit(__doc__)
    model, onx = args[0], args[1]
    rng = np.random.default_rng(int(args[2]) if len(args) == 3 else 0)
    # Keras refuses to load a Lambda's stored Python code unless told: only for models this
    # project generates (scripts/gen-probe-keras.py), never for files from elsewhere.
    trusted = "--trust-lambda" in sys.argv[1:]
    m = keras.models.load_model(model, compile=False, safe_mode=not trusted)
    shape = [d if d else (1 if i == 0 else 64) for i, d in enumerate(m.inputs[0].shape)]
    x = rng.random(shape).astype(np.float32) * 2 - 1
    outs = m.predict(x, verbose=0)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    names = [t.name for t in m.outputs]
    want = list(zip(names, [np.asarray(o) for o in outs]))
    sys.exit(report(model, want, run_onnx(onx, x)))


if __name__ == "__main__":
    main()
