#!/usr/bin/env python3
"""Writes Keras models as Keras itself saves them (`model.save("x.h5")`, the HDF5 format Keras 2
and tf.keras models are shipped in), to check banwatch's Keras -> ONNX converter against Keras.

GENERATED, not trained (random weights, seeded). Keras 3 on the JAX backend writes them (the
`.deps/keras` venv that `scripts/setup.sh test` makes), each twice: NAME.h5 in the legacy HDF5
layout (`model_config` attribute, `model_weights/<layer>/...`) and NAME.keras, Keras 3's own zip
(`config.json`, `model.weights.h5` with `layers/<layer>/vars/<i>`).

- coverage_sequential.h5: a Sequential net over every layer class the converter translates in a
  chain: Conv2D (same and valid padding, strides, dilation, activations), BatchNormalization,
  DepthwiseConv2D, SeparableConv2D, ReLU with a ceiling, LeakyReLU, PReLU, pooling,
  ZeroPadding2D, UpSampling2D, Dropout, Flatten, Dense with softmax.
- coverage_functional.h5: a Functional graph with residual Add, Concatenate, Multiply,
  Subtract, Reshape, Permute, GlobalAveragePooling2D, Rescaling, and two outputs.
- embedder_128.h5: a recognition-shaped embedder (112x112 face crop, conv backbone, dense 128,
  UnitNormalization), for the probe to run.
- scaled_residual.h5: Inception-ResNet's residual scaling as keras-facenet writes it, a
  `Lambda` of `x * scale` with `arguments={"scale": 0.17}` (Keras 3 stores a Python lambda's
  marshalled code in the file; banwatch reads that code, never runs it), and a
  BatchNormalization on axis 1 of a flat [N, C] tensor after a Dense.
- other_lambda.h5: a `Lambda` adding 1, which the converter must refuse and name.
- embedder_128_scikeras.pkl: the embedder's `.keras` zip as scikeras pickles a fitted Keras
  model (`scikeras/_saving_utils.py`: the zip's bytes as a uint8 array, dumped by joblib).

usage: gen-probe-keras.py OUTDIR
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
from keras import layers  # noqa: E402

keras.utils.set_random_seed(3)


def randomize(model):
    """Batch-norm statistics away from 0 and 1, so a mistranslation shows."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            rng = keras.random.SeedGenerator(7)
            layer.set_weights([
                g + 0.3 * keras.random.normal(g.shape, seed=rng),
                b + 0.3 * keras.random.normal(b.shape, seed=rng),
                m + 0.2 * keras.random.normal(m.shape, seed=rng),
                v + keras.ops.abs(keras.random.normal(v.shape, seed=rng)),
            ])
        if isinstance(layer, layers.PReLU):
            (a,) = layer.get_weights()
            layer.set_weights([a + 0.25])
    return model


def coverage_sequential():
    return keras.Sequential([
        keras.Input((40, 40, 3)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.Conv2D(8, 3, strides=2, padding="valid", activation="swish"),
        layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu6"),
        layers.SeparableConv2D(12, 3, padding="same", dilation_rate=2),
        layers.ReLU(max_value=6.0),
        layers.Conv2D(12, 3, padding="same", dilation_rate=2, activation="tanh"),
        layers.ZeroPadding2D(((1, 0), (2, 1))),
        layers.MaxPooling2D(2),
        layers.LeakyReLU(negative_slope=0.1),
        layers.AveragePooling2D(2, strides=1, padding="same"),
        layers.UpSampling2D(2),
        layers.PReLU(shared_axes=[1, 2]),
        layers.Conv2D(4, 1, activation="sigmoid"),
        layers.Dropout(0.5),
        layers.Flatten(),
        layers.Dense(16, activation="elu"),
        layers.Dense(5, activation="softmax"),
    ])


def coverage_functional():
    x = keras.Input((32, 32, 3))
    s = layers.Rescaling(1 / 127.5, offset=-1)(x)
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(s)
    b = layers.Conv2D(8, 3, padding="same")(a)
    b = layers.BatchNormalization()(b)
    r = layers.Add()([a, b])
    c = layers.Concatenate()([r, a])
    m = layers.Multiply()([c, c])
    d = layers.Subtract()([m, c])
    p = layers.Permute((2, 1, 3))(d)
    g = layers.GlobalAveragePooling2D()(p)
    f = layers.Reshape((4, 4))(g)
    f = layers.Flatten()(f)
    out1 = layers.Dense(6, activation="softmax", name="scores")(f)
    out2 = layers.Dense(3, name="values")(g)
    return keras.Model(x, [out1, out2])


def scaled_residual():
    x = keras.Input((32, 32, 3))
    y = layers.Conv2D(8, 3, padding="same")(x)
    up = layers.Conv2D(8, 1)(y)
    up = layers.Lambda(lambda t, scale: t * scale, arguments={"scale": 0.17})(up)
    y = layers.Add()([y, up])
    y = layers.Activation("relu")(y)
    y = layers.GlobalAveragePooling2D()(y)
    y = layers.Dense(16)(y)
    y = layers.BatchNormalization(axis=1)(y)
    return keras.Model(x, y)


def other_lambda():
    x = keras.Input((16, 16, 3))
    y = layers.Lambda(lambda t: t + 1.0)(x)
    y = layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, y)


def embedder():
    x = keras.Input((112, 112, 3))
    y = x
    for filters in (16, 32, 64):
        y = layers.Conv2D(filters, 3, strides=2, padding="same")(y)
        y = layers.BatchNormalization()(y)
        y = layers.PReLU(shared_axes=[1, 2])(y)
    y = layers.GlobalAveragePooling2D()(y)
    y = layers.Dense(128)(y)
    y = layers.UnitNormalization()(y)
    return keras.Model(x, y)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, build in [
        ("coverage_sequential", coverage_sequential),
        ("coverage_functional", coverage_functional),
        ("embedder_128", embedder),
        ("scaled_residual", scaled_residual),
        ("other_lambda", other_lambda),
    ]:
        model = randomize(build())
        model.save(os.path.join(sys.argv[1], f"{name}.h5"))
        model.save(os.path.join(sys.argv[1], f"{name}.keras"))
    import joblib  # noqa: E402
    import numpy as np  # noqa: E402

    with open(os.path.join(sys.argv[1], "embedder_128.keras"), "rb") as f:
        zipped = np.frombuffer(f.read(), np.uint8)
    joblib.dump(zipped, os.path.join(sys.argv[1], "embedder_128_scikeras.pkl"))
