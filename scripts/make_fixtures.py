#!/usr/bin/env python3
"""Make Graft's Keras/Caffe weight-file fixtures (run by hand; CI never runs it; outputs are committed).

Setup (once):
    python3 -m venv .venv && .venv/bin/pip install tensorflow-cpu tf-keras h5py numpy
Run from the repository root:
    .venv/bin/python scripts/make_fixtures.py            # committed fixtures only
    .venv/bin/python scripts/make_fixtures.py --all      # also the larger, uncommitted variants (see ALL_ONLY)
    .venv/bin/python scripts/make_fixtures.py --verify-export DIR/lenet5_graft_export.h5 --model lenet5
        # checks a Graft Keras-2 export with tf_keras (see verify_export; the WeightIO test
        # exportForKerasVerification writes DIR/<model>_graft_export.h5 and _graft_io.h5 when GRAFT_EXPORT_DIR=DIR)

Writers: tf_keras (2.21, the Keras 2 writer) for `save_weights('x.h5')` and `model.save('x.h5')`,
keras (3.x, shipped with tensorflow) for `save_weights('x.weights.h5')`, h5py for the Caffe layout and
for the old-style (Keras 1, fixed-length byte-string) and split-`layer_names` files.

Outputs (Tests/WeightIOTests/Fixtures/ unless noted; Tests/ZooTests/Fixtures/README.md describes
every architecture exactly as built here):
    <model>_tfkeras.h5          tf_keras save_weights               (lenet5, vgg_small, alexnet_small, resnet18_small)
    <model>_tfkeras_full.h5     tf_keras model.save                 (lenet5; others with --all)
    <model>_keras3.weights.h5   Keras 3 save_weights                (lenet5, resnet18_small; others with --all)
    <model>_caffe.h5            Caffe layout via h5py               (lenet5; vgg_small with --all)
    lenet5_keras1.h5            Keras-1 style: fixed-length 'S' attributes, names conv1_W_1:0 / conv1_b_1:0
    lenet5_split_names.h5       tf_keras file with layer_names split into layer_names0 / layer_names1
    vgg_small_nested.h5         vgg_small trunk as a sub-model ('vgg_small_trunk') inside an outer model
    formats_misc.h5             attribute/dtype edge cases (vlen ascii/utf8, fixed-length strings, float64[0],
                                float64/float16/int64 datasets) for the HDF5 wrapper tests
    keras2_int_kernel.h5        Keras 2 layout whose second layer has an int32 kernel
    keras2_missing_dataset.h5   Keras 2 layout whose weight_names lists a dataset that is not there
    keras2_theano.h5            tiny Keras 2 file with backend='theano'
    caffe_batchnorm.h5          Caffe BatchNorm 3-blob form + Scale layer
    <model>_io.h5               datasets `input` (2,H,W,C) float32 NHWC and `output` (2,classes) float32 softmax
                                (in Tests/ZooTests/Fixtures/ only; WeightIO tests read them from there)
  Tests/ZooTests/Fixtures/:
    vgg16_64_io.h5, resnet50_64_io.h5   input/output of full-size keras.applications models with hash weights,
                                plus `activations/<layer>` (image 0 only, NHWC or (1, units)) for a few layers
    vgg16_64_weights.txt, resnet50_64_weights.txt   `layer_name/weight_name d0,d1,...` per tensor, in model.weights order

Hash weights for the full-size checks (VGG16 and ResNet50, weights=None, input_shape=(64,64,3), classes=5):
every tensor of model.weights, in that order (ordinal t = 0, 1, ...; the order is the line order of the
*_weights.txt file), in Keras layout and C (row-major) order with element index i = 0, 1, ..., is
    u = (i * 2654435761 + (t + 1) * 40503 + 12345) mod 2**32        (exact integer arithmetic)
    h = float64(u) / 2**32 - 0.5                                    (exact in float64)
    kernel:          value = float32(sqrt(3.0 / fan_in) * h)        fan_in = prod(shape[:-1]) (HWIO: kh*kw*in; Dense: in)
    bias, beta:      value = float32(0.1 * h)
    gamma:           value = float32(1.0 + 0.4 * h)
    moving_mean:     value = float32(0.2 * h)
    moving_variance: value = float32(1.0 + 0.8 * (h + 0.5))
Every step is float64 arithmetic (sqrt(3.0/fan_in) is computed once per tensor: 3.0/fan_in rounded, then the
correctly rounded sqrt), then one float64 -> float32 round-to-nearest-even, so Swift reproduces it bit for bit.
"""
import argparse
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"   # plain Eigen kernels: reproducible float32 results

import numpy as np  # noqa: E402
import h5py  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.set_visible_devices([], "GPU")
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.get_logger().setLevel("ERROR")

import tf_keras  # noqa: E402  (Keras 2 writer)
import keras  # noqa: E402     (Keras 3 writer)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIO = os.path.join(ROOT, "Tests", "WeightIOTests", "Fixtures")
ZOO = os.path.join(ROOT, "Tests", "ZooTests", "Fixtures")
ALL = False
WRITTEN = []


def out(path):
    WRITTEN.append(path)
    return path


# ---------------------------------------------------------------------------------------------
# Architectures (L is tf_keras.layers or keras.layers; the same code builds both)

def lenet5(K):
    L = K.layers
    x_in = L.Input((28, 28, 1), name="input")
    x = L.Conv2D(6, 5, padding="same", activation="tanh", name="conv1")(x_in)
    x = L.AveragePooling2D(2, name="pool1")(x)
    x = L.Conv2D(16, 5, padding="valid", activation="tanh", name="conv2")(x)
    x = L.AveragePooling2D(2, name="pool2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(120, activation="tanh", name="fc1")(x)
    x = L.Dense(84, activation="tanh", name="fc2")(x)
    x = L.Dense(10, activation="softmax", name="predictions")(x)
    return K.Model(x_in, x, name="lenet5")


def alexnet_small(K):
    L = K.layers
    x_in = L.Input((64, 64, 3), name="input")
    x = L.ZeroPadding2D(2, name="conv1_pad")(x_in)                                          # 68x68
    x = L.Conv2D(16, 11, strides=4, activation="relu", name="conv1")(x)                     # 15x15
    x = L.MaxPooling2D(3, strides=2, name="pool1")(x)                                        # 7x7
    x = L.Conv2D(48, 5, padding="same", activation="relu", name="conv2")(x)                 # 7x7
    x = L.MaxPooling2D(3, strides=2, name="pool2")(x)                                        # 3x3
    x = L.Conv2D(96, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu", name="conv4")(x)
    x = L.Conv2D(64, 3, padding="same", activation="relu", name="conv5")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool5")(x)                                        # 1x1
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(256, activation="relu", name="fc6")(x)
    x = L.Dropout(0.5, name="drop6")(x)
    x = L.Dense(256, activation="relu", name="fc7")(x)
    x = L.Dropout(0.5, name="drop7")(x)
    x = L.Dense(5, activation="softmax", name="predictions")(x)
    return K.Model(x_in, x, name="alexnet_small")


VGG_SMALL_BLOCKS = [(1, 8), (1, 16), (2, 32), (2, 64), (2, 64)]   # (convs, filters) per block: VGG-11 at 1/8


def vgg_small_trunk(K, x_in):
    L = K.layers
    x = x_in
    for b, (convs, filters) in enumerate(VGG_SMALL_BLOCKS, start=1):
        for i in range(1, convs + 1):
            x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{b}_conv{i}")(x)
        x = L.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    return x


def vgg_small(K):
    L = K.layers
    x_in = L.Input((32, 32, 3), name="input")
    x = vgg_small_trunk(K, x_in)                                                            # 1x1x64
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(64, activation="relu", name="fc1")(x)
    x = L.Dense(64, activation="relu", name="fc2")(x)
    x = L.Dense(3, activation="softmax", name="predictions")(x)
    return K.Model(x_in, x, name="vgg_small")


def vgg_small_nested(K):
    """The FORMATS.md 'vgg16_transfer' shape: a trunk model called as one layer of an outer model."""
    L = K.layers
    t_in = L.Input((32, 32, 3), name="trunk_input")
    trunk = K.Model(t_in, vgg_small_trunk(K, t_in), name="vgg_small_trunk")
    x_in = L.Input((32, 32, 3), name="input")
    x = trunk(x_in)
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(3, activation="softmax", name="head")(x)
    return K.Model(x_in, x, name="vgg_small_transfer")


RESNET18_WIDTHS = [8, 16, 32, 64]


def resnet18_small(K):
    L = K.layers

    def bn(name):
        return L.BatchNormalization(axis=3, epsilon=1e-5, name=name)

    x_in = L.Input((32, 32, 3), name="input")
    x = L.ZeroPadding2D(3, name="conv1_pad")(x_in)                                          # 38
    x = L.Conv2D(RESNET18_WIDTHS[0], 7, strides=2, use_bias=False, name="conv1_conv")(x)    # 16
    x = bn("conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.ZeroPadding2D(1, name="pool1_pad")(x)                                             # 18
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)                                  # 8
    for stage, width in zip([2, 3, 4, 5], RESNET18_WIDTHS):
        for block in (1, 2):
            stride = 2 if (stage > 2 and block == 1) else 1
            p = f"conv{stage}_block{block}"
            if stride != 1 or x.shape[-1] != width:
                shortcut = L.Conv2D(width, 1, strides=stride, use_bias=False, name=p + "_0_conv")(x)
                shortcut = bn(p + "_0_bn")(shortcut)
            else:
                shortcut = x
            y = L.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=p + "_1_conv")(x)
            y = bn(p + "_1_bn")(y)
            y = L.Activation("relu", name=p + "_1_relu")(y)
            y = L.Conv2D(width, 3, padding="same", use_bias=False, name=p + "_2_conv")(y)
            y = bn(p + "_2_bn")(y)
            x = L.Add(name=p + "_add")([shortcut, y])
            x = L.Activation("relu", name=p + "_out")(x)
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(4, activation="softmax", name="predictions")(x)
    return K.Model(x_in, x, name="resnet18_small")


SMALL = {"lenet5": lenet5, "alexnet_small": alexnet_small, "vgg_small": vgg_small, "resnet18_small": resnet18_small}
SEEDS = {"lenet5": 5, "alexnet_small": 7, "vgg_small": 11, "resnet18_small": 18, "vgg_small_nested": 23}


# ---------------------------------------------------------------------------------------------
# Weights

def randomize(model, seed):
    """Seeded, non-trivial weights: He-uniform kernels U(-sqrt(6/fan_in), +sqrt(6/fan_in)), N(0, 0.05) biases,
    BN gamma U(0.5, 1.5), beta N(0, 0.2), moving_mean N(0, 0.5), moving_variance U(0.5, 2)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            c = ws[0].shape
            new = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.5, c), rng.uniform(0.5, 2.0, c)]
        elif isinstance(layer, tf_keras.Model):
            randomize(layer, int(rng.integers(1 << 30)))
            continue
        else:
            new = []
            for w in ws:
                if w.ndim >= 2:
                    limit = np.sqrt(6.0 / int(np.prod(w.shape[:-1])))
                    new.append(rng.uniform(-limit, limit, w.shape))
                else:
                    new.append(rng.normal(0, 0.05, w.shape))
        layer.set_weights([np.asarray(v, np.float32) for v in new])


def hash_values(t, shape, kind):
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    u = (i * np.uint64(2654435761) + np.uint64((t + 1) * 40503 + 12345)) % np.uint64(1 << 32)
    # Cross-check the vectorised uint64 arithmetic against exact Python ints on a few elements.
    for k in (0, 1, n // 2, n - 1):
        assert int(u[k]) == (k * 2654435761 + (t + 1) * 40503 + 12345) % (1 << 32)
    h = u.astype(np.float64) / float(1 << 32) - 0.5
    if kind == "kernel":
        fan_in = int(np.prod(shape[:-1]))
        v = np.sqrt(3.0 / fan_in) * h
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


def weight_kind(name):
    base = name.split("/")[-1].split(":")[0]
    if base in ("kernel", "bias", "beta", "gamma", "moving_mean", "moving_variance"):
        return base
    raise ValueError(name)


def weight_label(model, w):
    """`layer_name/weight_name` for a weight of model (tf_keras names are already 'layer/weight:0')."""
    return w.name.split(":")[0]


# ---------------------------------------------------------------------------------------------
# Writers

def save_io(path, x, y):
    with h5py.File(out(path), "w") as f:
        f.create_dataset("input", data=np.asarray(x, np.float32))
        f.create_dataset("output", data=np.asarray(y, np.float32))


def predict(model, x):
    return np.asarray(model(x, training=False), np.float32)


def keras3_twin(builder, k2_model):
    """The same architecture in Keras 3 with the tf_keras weights copied by layer name."""
    m3 = builder(keras)
    for layer in m3.layers:
        ws = k2_model.get_layer(layer.name).get_weights()
        if ws:
            layer.set_weights(ws)
    return m3


def caffe_export(model, path):
    """Caffe HDF5 layout: data/<layer>/0 = OIHW kernel or (out, in) inner product, data/<layer>/1 = bias.
    Groups are created in net order (weightless layers get empty groups). The first Dense after Flatten
    gets its input rows permuted from Keras (h, w, c) flatten order to Caffe's (c, h, w)."""
    with h5py.File(out(path), "w") as f:
        data = f.create_group("data")
        prev_shape = None
        for layer in model.layers:
            if isinstance(layer, tf_keras.layers.InputLayer):
                continue
            g = data.create_group(layer.name)
            ws = layer.get_weights()
            if isinstance(layer, tf_keras.layers.Conv2D):
                g.create_dataset("0", data=ws[0].transpose(3, 2, 0, 1))
                g.create_dataset("1", data=ws[1])
            elif isinstance(layer, tf_keras.layers.Dense):
                kernel = ws[0]
                if prev_shape is not None:   # first Dense after Flatten: rows (h, w, c) -> (c, h, w)
                    H, W, C = prev_shape
                    kernel = kernel.reshape(H, W, C, -1).transpose(2, 0, 1, 3).reshape(H * W * C, -1)
                    prev_shape = None
                g.create_dataset("0", data=kernel.T)
                g.create_dataset("1", data=ws[1])
            elif isinstance(layer, tf_keras.layers.Flatten):
                prev_shape = tuple(int(d) for d in layer.input.shape[1:])


def keras1_export(model, path):
    """Old-style file: fixed-length byte-string attributes (numpy 'S'), Keras-1 dataset names
    <layer>/<layer>_W_1:0 and <layer>_b_1:0, float64[0] weight_names for weightless layers, keras_version 1.2.2."""
    with h5py.File(out(path), "w") as f:
        names = [layer.name for layer in model.layers]
        f.attrs["layer_names"] = np.array([n.encode() for n in names], dtype="S")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["keras_version"] = np.bytes_(b"1.2.2")
        for layer in model.layers:
            g = f.create_group(layer.name)
            ws = layer.get_weights()
            if not ws:
                g.attrs["weight_names"] = np.zeros((0,), np.float64)
                continue
            wn = [f"{layer.name}_W_1:0", f"{layer.name}_b_1:0"]
            g.attrs["weight_names"] = np.array([n.encode() for n in wn], dtype="S")
            for n, w in zip(wn, ws):
                g.create_dataset(n, data=w)


def split_names_copy(src, dst):
    """A copy of a tf_keras weights file whose root layer_names is split in two (as tf_keras does past 64512 bytes)."""
    shutil.copyfile(src, out(dst))
    with h5py.File(dst, "r+") as f:
        names = f.attrs["layer_names"]
        k = (len(names) + 1) // 2
        del f.attrs["layer_names"]
        f.attrs["layer_names0"] = names[:k]
        f.attrs["layer_names1"] = names[k:]


def misc_fixtures():
    vlen_ascii = h5py.string_dtype("ascii")
    vlen_utf8 = h5py.string_dtype("utf-8")
    with h5py.File(out(os.path.join(WIO, "formats_misc.h5")), "w") as f:
        a = f.attrs
        a.create("vlen_ascii", "tensorflow", dtype=vlen_ascii)
        a.create("vlen_utf8", "réseau ✓", dtype=vlen_utf8)
        a.create("vlen_ascii_array", np.array(["conv1", "pool1", "fc1"], dtype=object), dtype=vlen_ascii)
        a.create("vlen_utf8_array", np.array(["α", "béta", "γ3"], dtype=object), dtype=vlen_utf8)
        a["fixed_scalar"] = np.bytes_(b"2.0.8")
        a["fixed_array"] = np.array([b"conv1", b"fc10", b"x"], dtype="S5")      # null-padded, 'x' shorter
        a["empty_list"] = np.zeros((0,), np.float64)
        a["int_scalar"] = np.int64(42)
        a["float_array"] = np.array([0.5, -1.25, 3.0], np.float64)
        g = f.create_group("tensors")
        g.create_dataset("f32", data=np.array([[1.5, -2.0, 3.25], [0.0, 1e-3, -7.0]], np.float32))
        g.create_dataset("f64", data=np.array([[0.1, 1.0 / 3.0], [1e-40, -123456.789]], np.float64))
        f16 = np.array([1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08, -0.0, np.inf, -np.inf, 0.33325195], np.float16)
        g.create_dataset("f16", data=f16)
        g.create_dataset("f16_be", data=f16.astype(">f2"))
        g.create_dataset("i64", data=np.arange(6, dtype=np.int64).reshape(2, 3))
        g.create_dataset("scalar", data=np.float32(2.5))
        g.create_dataset("nested/deep/value", data=np.ones((2, 2), np.float32))

    # Keras 2 layout with an int32 kernel.
    with h5py.File(out(os.path.join(WIO, "keras2_int_kernel.h5")), "w") as f:
        f.attrs["layer_names"] = np.array(["dense_ok", "dense_int"], dtype=object)
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.21.0"
        g = f.create_group("dense_ok")
        g.attrs["weight_names"] = np.array(["dense_ok/kernel:0"], dtype=object)
        g.create_dataset("dense_ok/kernel:0", data=np.ones((2, 3), np.float32))
        g = f.create_group("dense_int")
        g.attrs["weight_names"] = np.array(["dense_int/kernel:0", "dense_int/bias:0"], dtype=object)
        g.create_dataset("dense_int/kernel:0", data=np.arange(6, dtype=np.int32).reshape(3, 2))
        g.create_dataset("dense_int/bias:0", data=np.zeros(2, np.float32))

    # Keras 2 layout whose weight_names lists a dataset that does not exist.
    with h5py.File(out(os.path.join(WIO, "keras2_missing_dataset.h5")), "w") as f:
        f.attrs["layer_names"] = np.array(["dense_missing"], dtype=object)
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.21.0"
        g = f.create_group("dense_missing")
        g.attrs["weight_names"] = np.array(["dense_missing/kernel:0", "dense_missing/bias:0"], dtype=object)
        g.create_dataset("dense_missing/kernel:0", data=np.ones((2, 2), np.float32))

    # Theano-backend Keras 2 file (the importer flips conv kernels; the reader only reports it).
    with h5py.File(out(os.path.join(WIO, "keras2_theano.h5")), "w") as f:
        f.attrs["layer_names"] = np.array([b"conv"], dtype="S")
        f.attrs["backend"] = np.bytes_(b"theano")
        f.attrs["keras_version"] = np.bytes_(b"2.0.8")
        g = f.create_group("conv")
        g.attrs["weight_names"] = np.array([b"conv/kernel:0", b"conv/bias:0"], dtype="S")
        g.create_dataset("conv/kernel:0", data=np.arange(2 * 2 * 1 * 3, dtype=np.float32).reshape(2, 2, 1, 3))
        g.create_dataset("conv/bias:0", data=np.array([0.5, -0.5, 1.0], np.float32))

    # Caffe BatchNorm (3 blobs: mean*s, var*s, [s]) followed by its Scale layer, plus a conv.
    with h5py.File(out(os.path.join(WIO, "caffe_batchnorm.h5")), "w") as f:
        d = f.create_group("data")
        c = d.create_group("conv1")
        c.create_dataset("0", data=np.arange(2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3))
        bn = d.create_group("bn_conv1")
        bn.create_dataset("0", data=np.array([2.0, -4.0], np.float32) * 999.0)   # mean * s
        bn.create_dataset("1", data=np.array([1.5, 3.0], np.float32) * 999.0)    # var * s
        bn.create_dataset("2", data=np.array([999.0], np.float32))               # s
        sc = d.create_group("scale_conv1")
        sc.create_dataset("0", data=np.array([1.25, 0.75], np.float32))
        sc.create_dataset("1", data=np.array([0.1, -0.1], np.float32))
        d.create_group("relu1")
        d.create_group("a_pool")   # sorts first by name but comes last in net order


# ---------------------------------------------------------------------------------------------

def make_small(name, x):
    builder = SMALL[name]
    m2 = builder(tf_keras)
    randomize(m2, SEEDS[name])
    y = predict(m2, x)
    assert np.all(np.isfinite(y))
    print(f"  {name}: {m2.count_params()} params, max prob {y.max(axis=1)}")
    m2.save_weights(out(os.path.join(WIO, f"{name}_tfkeras.h5")))
    if name == "lenet5" or ALL:
        m2.save(out(os.path.join(WIO, f"{name}_tfkeras_full.h5")), save_format="h5")
    m3 = keras3_twin(builder, m2)
    y3 = np.asarray(m3(x, training=False), np.float32)
    diff = float(np.abs(y3 - y).max())
    assert diff < 1e-5, f"{name}: Keras 3 twin disagrees by {diff}"
    if name in ("lenet5", "resnet18_small") or ALL:
        m3.save_weights(out(os.path.join(WIO, f"{name}_keras3.weights.h5")))
    if name == "lenet5" or (name == "vgg_small" and ALL):
        caffe_export(m2, os.path.join(WIO, f"{name}_caffe.h5"))
    if name == "lenet5":
        keras1_export(m2, os.path.join(WIO, "lenet5_keras1.h5"))
        split_names_copy(os.path.join(WIO, "lenet5_tfkeras.h5"), os.path.join(WIO, "lenet5_split_names.h5"))
    save_io(os.path.join(ZOO, f"{name}_io.h5"), x, y)
    return m2


def make_nested(x):
    m = vgg_small_nested(tf_keras)
    randomize(m, SEEDS["vgg_small_nested"])
    y = predict(m, x)
    m.save_weights(out(os.path.join(WIO, "vgg_small_nested.h5")))
    save_io(os.path.join(WIO, "vgg_small_nested_io.h5"), x, y)


FULL_SIZE_PROBES = {
    "vgg16": ["block3_pool", "block4_pool", "block5_pool", "fc1", "fc2"],
    "resnet50": ["pool1_pool", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out", "avg_pool"],
}


def make_full_size(name, builder, x):
    model = builder(weights=None, input_shape=(64, 64, 3), classes=5)
    lines = []
    values = []
    for t, w in enumerate(model.weights):
        shape = tuple(int(d) for d in w.shape)
        values.append(hash_values(t, shape, weight_kind(w.name)))
        lines.append(f"{weight_label(model, w)} {','.join(str(d) for d in shape)}")
    model.set_weights(values)
    # set_weights follows model.weights order: check it landed where the list says.
    for w, v in zip(model.weights, values):
        assert np.array_equal(w.numpy(), v)
    y = predict(model, x)
    with open(out(os.path.join(ZOO, f"{name}_64_weights.txt")), "w") as f:
        f.write("\n".join(lines) + "\n")
    save_io(os.path.join(ZOO, f"{name}_64_io.h5"), x, y)
    # With these weights the signal shrinks layer by layer, so the final softmax is dominated by the last
    # biases; intermediate Keras activations of image 0 make the check sensitive to every layer.
    probe = tf_keras.Model(model.input, [model.get_layer(n).output for n in FULL_SIZE_PROBES[name]])
    acts = probe(x[:1], training=False)
    with h5py.File(os.path.join(ZOO, f"{name}_64_io.h5"), "a") as f:
        for n, a in zip(FULL_SIZE_PROBES[name], acts):
            f.create_dataset(f"activations/{n}", data=np.asarray(a, np.float32))
    # Sensitivity: how much the output moves if the input is perturbed (is the check meaningful?).
    y2 = predict(model, x * 1.01)
    print(f"  {name}_64: {len(lines)} tensors, {model.count_params()} params, output {y[0]}, "
          f"|d out| for 1% input change {np.abs(y2 - y).max():.3g}")


# ---------------------------------------------------------------------------------------------
# Verification of Graft's Keras-2 exports (writes nothing)

def verify_export(path, name, graft_io, tolerance=1e-4):
    """Loads a Graft-written Keras 2 weights file into the tf_keras model `name` (SMALL), both
    topologically (`load_weights(path)`) and by name (`by_name=True`), runs it on the `input` (NHWC) of
    `graft_io` and compares with the `output` Graft computed there. Returns True when both agree to
    `tolerance` (relative, floor 1e-3)."""
    if name not in SMALL:
        raise SystemExit(f"--model must be one of {sorted(SMALL)}")
    with h5py.File(graft_io, "r") as f:
        x = np.asarray(f["input"], np.float32)
        y_graft = np.asarray(f["output"], np.float32)
    with h5py.File(path, "r") as f:
        layer_names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
    ok = True
    for mode in ("topological", "by_name"):
        model = SMALL[name](tf_keras)
        randomize(model, 987654)   # anything but the export's weights
        y_before = predict(model, x)
        if mode == "topological":
            model.load_weights(path)
        else:
            model.load_weights(path, by_name=True)
        y = predict(model, x)
        diff = np.abs(y - y_graft)
        rel = float((diff / np.maximum(np.abs(y_graft), 1e-3)).max())
        moved = float(np.abs(y_before - y_graft).max())
        good = rel < tolerance and y.shape == y_graft.shape
        ok = ok and good
        print(f"verify-export {name} {os.path.basename(path)} {mode}: max|d|={float(diff.max()):.3g} "
              f"max rel={rel:.3g} (before load: max|d|={moved:.3g}) -> {'OK' if good else 'FAIL'}")
    keras_names = [layer.name for layer in SMALL[name](tf_keras).layers]
    same_order = keras_names == layer_names
    print(f"verify-export {name} layer_names {'match' if same_order else 'DIFFER from'} the Keras model's layers "
          f"({len(layer_names)} names)")
    return ok


def main():
    global ALL
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--all", action="store_true", help="also write the larger variants that are not committed")
    ap.add_argument("--skip-full-size", action="store_true", help="skip the VGG16/ResNet50 hash-weight checks")
    ap.add_argument("--verify-export", metavar="FILE",
                    help="instead of writing fixtures: load a Graft-exported Keras 2 weights FILE into the tf_keras "
                         "model --model (topologically and by_name) and compare its output with Graft's")
    ap.add_argument("--model", help="with --verify-export: " + ", ".join(SMALL))
    ap.add_argument("--graft-io", metavar="IO.h5",
                    help="with --verify-export: Graft's `input` (NHWC) and `output`; default <FILE minus "
                         "'_export.h5' or '.h5'>_io.h5")
    args = ap.parse_args()
    if args.verify_export:
        if not args.model:
            ap.error("--verify-export needs --model")
        graft_io = args.graft_io
        if graft_io is None:
            stem = args.verify_export
            stem = stem[:-len("_export.h5")] if stem.endswith("_export.h5") else os.path.splitext(stem)[0]
            graft_io = stem + "_io.h5"
        sys.exit(0 if verify_export(args.verify_export, args.model, graft_io) else 1)
    ALL = args.all
    skip_full = args.skip_full_size
    os.makedirs(WIO, exist_ok=True)
    os.makedirs(ZOO, exist_ok=True)
    tf_keras.utils.set_random_seed(0)
    keras.utils.set_random_seed(0)

    rng = np.random.default_rng(1234)
    inputs = {
        "lenet5": rng.uniform(0.0, 1.0, (2, 28, 28, 1)),
        "alexnet_small": rng.uniform(-1.0, 1.0, (2, 64, 64, 3)),
        "vgg_small": rng.uniform(-1.0, 1.0, (2, 32, 32, 3)),
        "resnet18_small": rng.uniform(-1.0, 1.0, (2, 32, 32, 3)),
    }
    inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
    print("small models:")
    for name in SMALL:
        make_small(name, inputs[name])
    make_nested(inputs["vgg_small"])
    misc_fixtures()

    if not skip_full:
        print("full-size hash-weight checks:")
        x64 = rng.uniform(-1.0, 1.0, (2, 64, 64, 3)).astype(np.float32) * 60.0   # caffe-like magnitude
        make_full_size("vgg16", tf_keras.applications.VGG16, x64)
        make_full_size("resnet50", tf_keras.applications.ResNet50, x64)
        counts = {
            "VGG16": tf_keras.applications.VGG16(weights=None).count_params(),
            "ResNet50": tf_keras.applications.ResNet50(weights=None).count_params(),
        }
        print(f"  count_params at 224x224x3 / 1000 classes: {counts}")

    print("wrote:")
    total = 0
    for p in WRITTEN:
        size = os.path.getsize(p)
        total += size
        print(f"  {os.path.relpath(p, ROOT)}  {size} bytes")
    print(f"  total {total} bytes")


if __name__ == "__main__":
    main()
