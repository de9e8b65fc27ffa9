#!/usr/bin/env python3
"""Make the InceptionV3 parity fixtures (run by hand; outputs are committed).

Keras 3 (3.15, TensorFlow backend) in a fresh session, so the auto-generated layer names are the ones
Graft's `inceptionv3` uses (`conv2d`, `conv2d_1`, ..., `batch_normalization_93`); a session that built
another model first would count on from there.

    /work/venv/bin/python scripts/make_inception_fixtures.py     (or any venv with tensorflow-cpu, keras, h5py)

Writes Tests/WeightIOTests/Fixtures/:
    inceptionv3_75_weights.txt  `layer_name/weight_name d0,d1,...` per tensor of model.weights, in that order
    inceptionv3_75_io.h5        `input` (2,75,75,3) NHWC in [-1, 1], `output` (2,5) softmax, and
                                `activations/<layer>` (image 0, NHWC or (1, units)) for a few layers
    inceptionv3_75_tfkeras_config.json  tf_keras (2.21) InceptionV3(weights=None, input_shape=(75, 75, 3),
                                classes=5).to_json(): the `model_config` a Keras 2 full-model file carries
for keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=5) with the hash weights
of scripts/make_fixtures.py (its docstring has the formula; BatchNormalization(scale=False) has no gamma),
except that kernels are sqrt(75.0 / fan_in) * h (see KERNEL_NUMERATOR).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"   # plain Eigen kernels: reproducible float32 results
os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np  # noqa: E402
import h5py  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "WeightIOTests", "Fixtures")
# Kernels: sqrt(KERNEL_NUMERATOR / fan_in) * h. make_fixtures.py's 3.0 shrinks the input-driven signal
# about 3x per conv2d_bn (ReLU, moving variance > 1, no gamma) while the betas stay, so after ~10 layers
# the softmax no longer depends on the input; 75.0 (5x the gain) keeps it reaching the output
KERNEL_NUMERATOR = 75.0
PROBES = ["activation_4", "mixed0", "mixed3", "mixed7", "mixed10", "avg_pool"]


def hash_values(t, shape, kind):
    """make_fixtures.py's formula with KERNEL_NUMERATOR (copied: importing it would build models and shift the names)."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    u = (i * np.uint64(2654435761) + np.uint64((t + 1) * 40503 + 12345)) % np.uint64(1 << 32)
    for k in (0, 1, n // 2, n - 1):
        assert int(u[k]) == (k * 2654435761 + (t + 1) * 40503 + 12345) % (1 << 32)
    h = u.astype(np.float64) / float(1 << 32) - 0.5
    if kind == "kernel":
        v = np.sqrt(KERNEL_NUMERATOR / int(np.prod(shape[:-1]))) * h
    elif kind in ("bias", "beta"):
        v = 0.1 * h
    elif kind == "gamma":
        v = 1.0 + 0.4 * h
    elif kind == "moving_mean":
        v = 0.2 * h
    elif kind == "moving_variance":
        v = 1.0 + 0.8 * (h + 0.5)
    else:
        raise ValueError(kind)
    return v.astype(np.float32).reshape(shape)


def main():
    model = keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=5)
    assert model.get_layer("conv2d_93") is not None, "not a fresh session: layer names are shifted"
    labels = {}
    for layer in model.layers:
        for w in layer.weights:
            labels[id(w)] = f"{layer.name}/{w.name}"
    lines, values = [], []
    for t, w in enumerate(model.weights):
        shape = tuple(int(d) for d in w.shape)
        name = labels[id(w)]
        values.append(hash_values(t, shape, name.split("/")[-1]))
        lines.append(f"{name} {','.join(str(d) for d in shape)}")
    model.set_weights(values)
    for w, v in zip(model.weights, values):
        assert np.array_equal(np.asarray(w.numpy()), v)
    rng = np.random.default_rng(75)
    x = rng.uniform(-1, 1, size=(2, 75, 75, 3)).astype(np.float32)
    y = np.asarray(model(x, training=False), np.float32)
    with open(os.path.join(OUT, "inceptionv3_75_weights.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in PROBES])
    acts = probe(x[:1], training=False)
    with h5py.File(os.path.join(OUT, "inceptionv3_75_io.h5"), "w") as f:
        f.create_dataset("input", data=x)
        f.create_dataset("output", data=y)
        for n, a in zip(PROBES, acts):
            f.create_dataset(f"activations/{n}", data=np.asarray(a, np.float32))
    y2 = np.asarray(model(x * 1.01, training=False), np.float32)
    print(f"inceptionv3_75: {len(lines)} tensors, {model.count_params()} params, output {y[0]}, "
          f"|d out| for 1% input change {np.abs(y2 - y).max():.3g}")
    for n, a in zip(PROBES, acts):
        a = np.asarray(a)
        print(f"  {n}: {a.shape} max |a| {np.abs(a).max():.3g}")


def tfkeras_config():
    import json
    import tf_keras   # its own name counters: a fresh session's names, as the Keras 3 model's
    m = tf_keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=5)
    assert m.get_layer("conv2d_93") is not None
    with open(os.path.join(OUT, "inceptionv3_75_tfkeras_config.json"), "w") as f:
        f.write(json.dumps(json.loads(m.to_json()), separators=(",", ":")))
    print(f"inceptionv3_75_tfkeras_config.json: {len(m.layers)} layers, {m.count_params()} params")


if __name__ == "__main__":
    main()
    tfkeras_config()
