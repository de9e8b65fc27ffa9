"""Keras-made model files in every file kind Graft reads (CI never runs this; tf_keras 2.21, keras 3).

For each model (automatic layer names, tiny inputs and few filters) writes into
Tests/WeightIOTests/Fixtures/kerasfiles/:
  NAME_k2.h5            tf_keras full-model .h5 (model_config)
  NAME_k2w.h5 + NAME_k2.json / NAME_k2.yaml
                        tf_keras save_weights .h5 with to_json(), and the same config as YAML the way
                        Keras 2.0-2.5's to_yaml() wrote it (yaml.dump: tuples tagged !!python/tuple)
  NAME_k3.keras         Keras 3 native archive
  NAME_k3legacy.h5      Keras 3 legacy full-model .h5
  NAME_k3.weights.h5 + NAME_k3.json
                        Keras 3 save_weights with its to_json()
and manifest.json: per model its NHWC inputs; per file its architecture sidecar and the probabilities of the
Keras that wrote it. The Keras-1 model is written by hand as Keras 1.2 did (Convolution2D,
nb_filter, border_mode, subsample, `_W`/`_b` weight names), its probabilities from a tf_keras twin.
"""
import json, os
os.environ["TF_USE_LEGACY_KERAS"] = "0"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np
import h5py, yaml
import keras as k3
import tf_keras as k2
from PIL import Image

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "WeightIOTests", "Fixtures", "kerasfiles")
os.makedirs(out, exist_ok=True)


def mnist(K, shape=(12, 12, 1)):
    L = K.layers
    return K.Sequential([
        K.Input(shape=shape),
        L.Conv2D(4, kernel_size=(3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Conv2D(6, kernel_size=(3, 3), activation="relu"),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(3, activation="softmax"),
    ])


def bn_add(K):
    L = K.layers
    i = K.Input(shape=(10, 10, 3))
    a = L.Rescaling(1 / 2.0, offset=-0.25)(i)
    a = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(a)
    a = L.BatchNormalization()(a)
    a = L.Activation("relu")(a)
    b = L.Conv2D(8, 3, padding="same", dilation_rate=2)(a)
    b = L.BatchNormalization(epsilon=1e-5)(b)
    b = L.Activation("swish")(b)
    a = L.Add()([a, b])
    a = L.Activation("gelu")(a)
    c = L.Conv2D(8, 1, groups=2, activation="selu")(a)
    s = L.Subtract()([a, c])
    m = L.Maximum()([a, c])
    a = L.Average()([s, m])
    a = L.GlobalMaxPooling2D()(a)
    a = L.Dense(5, activation="elu")(a)
    o = L.Dense(3)(a)
    o = L.Activation("softmax")(o)
    return K.Model(i, o)


def sep_dw(K):
    L = K.layers
    i = K.Input(shape=(10, 10, 3))
    a = L.Normalization(mean=[0.5, 0.4, 0.6], variance=[0.1, 0.2, 0.3])(i)
    a = L.ZeroPadding2D(((1, 2), (0, 1)))(a)
    a = L.SeparableConv2D(6, 3, depth_multiplier=2)(a)
    a = L.LeakyReLU(0.1)(a)
    b = L.DepthwiseConv2D(3, padding="same")(a)
    b = L.ReLU(max_value=4.0, negative_slope=0.05, threshold=0.1)(b)
    a = L.Concatenate()([a, b])
    a = L.Cropping2D(((1, 0), (0, 1)))(a)
    a = L.MaxPooling2D(2, padding="same")(a)
    a = L.UpSampling2D(2)(a)
    a = L.Conv2D(4, 3, activation="tanh")(a)
    a = L.PReLU(shared_axes=[1, 2])(a)
    a = L.Activation("hard_sigmoid")(a)
    a = L.SpatialDropout2D(0.2)(a)
    a = L.GaussianNoise(0.1)(a)
    a = L.GlobalAveragePooling2D()(a)
    a = L.Dense(3, activation="softplus")(a)
    o = L.Softmax()(a)
    return K.Model(i, o)


def perturb(m, seed):
    """Weights away from their initial values (BatchNorm statistics, PReLU slopes, big logits)."""
    rng = np.random.default_rng(seed)
    ws = []
    for w in m.weights:
        v = np.array(w.numpy() if hasattr(w, "numpy") else w)
        n = w.path if hasattr(w, "path") else w.name
        if "moving_variance" in n: v = rng.uniform(0.5, 1.5, v.shape)
        elif "moving_mean" in n or "beta" in n or "bias" in n: v = rng.uniform(-0.2, 0.2, v.shape)
        elif "gamma" in n: v = rng.uniform(0.7, 1.3, v.shape)
        elif "alpha" in n: v = rng.uniform(0.1, 0.4, v.shape)
        else: v = v * 2.0
        ws.append(v.astype("float32"))
    return ws


manifest = []
inputs = {}


def record(file, arch, x, p, model):
    inputs[model] = x.round(6).tolist()
    manifest.append({"file": file, "architecture": arch, "model": model, "probabilities": np.asarray(p).tolist()})


def old_keras_yaml(model):
    """What Keras 2.0-2.5's to_yaml() wrote: yaml.dump of the config with tuples left as tuples."""
    cfg = {"class_name": model.__class__.__name__, "config": model.get_config(),
           "keras_version": "2.4.0", "backend": "tensorflow"}
    return yaml.dump(cfg, default_flow_style=False)


def write_all(name, build, input_shape, seed):
    m3 = build(k3)
    m2 = build(k2)
    w = perturb(m3, seed)
    m3.set_weights(w)
    m2.set_weights(w)
    x = np.random.default_rng(seed + 100).random((2,) + input_shape).astype("float32").round(6)
    p3 = m3.predict(x, verbose=0)
    p2 = m2.predict(x, verbose=0)
    print(name, "keras 3 vs tf_keras max |dp|", float(np.abs(p3 - p2).max()))
    # tf_keras kinds
    m2.save(os.path.join(out, f"{name}_k2.h5"))
    record(f"{name}_k2.h5", None, x, p2, name)
    m2.save_weights(os.path.join(out, f"{name}_k2w.h5"))
    open(os.path.join(out, f"{name}_k2.json"), "w").write(m2.to_json())
    record(f"{name}_k2w.h5", f"{name}_k2.json", x, p2, name)
    open(os.path.join(out, f"{name}_k2.yaml"), "w").write(old_keras_yaml(m2))
    record(f"{name}_k2w.h5", f"{name}_k2.yaml", x, p2, name)
    # Keras 3 kinds
    m3.save(os.path.join(out, f"{name}_k3.keras"))
    record(f"{name}_k3.keras", None, x, p3, name)
    m3.save(os.path.join(out, f"{name}_k3legacy.h5"))
    record(f"{name}_k3legacy.h5", None, x, p3, name)
    m3.save_weights(os.path.join(out, f"{name}_k3.weights.h5"))
    open(os.path.join(out, f"{name}_k3.json"), "w").write(m3.to_json())
    record(f"{name}_k3.weights.h5", f"{name}_k3.json", x, p3, name)
    return m2, m3


k2.utils.set_random_seed(7)
k3.utils.set_random_seed(7)
mn2, mn3 = write_all("mnist", mnist, (12, 12, 1), 1)
write_all("bnadd", bn_add, (10, 10, 3), 2)
write_all("sepdw", sep_dw, (10, 10, 3), 3)

# The CLI's image: values 0...2 so `--preprocess none` keeps the softmax unsaturated.
a = (np.random.default_rng(5).random((12, 12)) * 3).astype("uint8")
Image.fromarray(a, "L").save(os.path.join(out, "mnist_input.png"))
img = a[None, :, :, None].astype("float32")
cli = {"k2": mn2.predict(img, verbose=0)[0].tolist(), "k3": mn3.predict(img, verbose=0)[0].tolist()}

# A Keras-1.2-style file: bare-list Sequential config with Keras 1 spellings, `_W`/`_b` weights.
K = k2
L = K.layers
twin = K.Sequential([
    K.Input(shape=(12, 12, 1)),
    L.Conv2D(4, (3, 3), strides=(1, 1), padding="same", activation="relu"),
    L.MaxPooling2D((2, 2)),
    L.Conv2D(5, (3, 3), strides=(2, 2), padding="valid"),
    L.Activation("relu"),
    L.Flatten(),
    L.Dropout(0.25),
    L.Dense(3),
    L.Activation("softmax"),
])
twin.set_weights(perturb(twin, 4))
x = np.random.default_rng(104).random((2, 12, 12, 1)).astype("float32").round(6)
p = twin.predict(x, verbose=0)
conv1, conv2, dense = [l for l in twin.layers if l.weights]
k1_layers = [
    {"class_name": "Convolution2D", "config": {"name": "convolution2d_1", "nb_filter": 4, "nb_row": 3, "nb_col": 3,
        "init": "glorot_uniform", "activation": "relu", "border_mode": "same", "subsample": [1, 1], "dim_ordering": "tf",
        "bias": True, "trainable": True, "batch_input_shape": [None, 12, 12, 1], "input_dtype": "float32"}},
    {"class_name": "MaxPooling2D", "config": {"name": "maxpooling2d_1", "pool_size": [2, 2], "strides": [2, 2],
        "border_mode": "valid", "dim_ordering": "tf", "trainable": True}},
    {"class_name": "Convolution2D", "config": {"name": "convolution2d_2", "nb_filter": 5, "nb_row": 3, "nb_col": 3,
        "activation": "linear", "border_mode": "valid", "subsample": [2, 2], "dim_ordering": "tf", "bias": True}},
    {"class_name": "Activation", "config": {"name": "activation_1", "activation": "relu", "trainable": True}},
    {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True}},
    {"class_name": "Dropout", "config": {"name": "dropout_1", "p": 0.25, "trainable": True}},
    {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 3, "input_dim": None, "activation": "linear",
        "bias": True, "trainable": True}},
    {"class_name": "Activation", "config": {"name": "activation_2", "activation": "softmax", "trainable": True}},
]
weights = {"convolution2d_1": conv1.get_weights(), "convolution2d_2": conv2.get_weights(), "dense_1": dense.get_weights()}
with h5py.File(os.path.join(out, "keras1_k1.h5"), "w") as f:
    f.attrs["keras_version"] = b"1.2.2"
    f.attrs["backend"] = b"tensorflow"
    f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": k1_layers}).encode()
    g = f.create_group("model_weights")
    names = [l["config"]["name"] for l in k1_layers]
    g.attrs["layer_names"] = [n.encode() for n in names]
    for n in names:
        lg = g.create_group(n)
        ws = weights.get(n, [])
        wn = [f"{n}_W:0".encode(), f"{n}_b:0".encode()][:len(ws)]
        lg.attrs["weight_names"] = wn
        for name, v in zip(wn, ws):
            lg.create_dataset(name.decode(), data=v)
record("keras1_k1.h5", None, x, p, "keras1")

# The same network as Keras 1.2 wrote it with dim_ordering 'th' (channels first): OIHW kernels, input
# (C, H, W), the Dense rows in (c, h, w) order. keras1th_tf_k1.h5 says backend tensorflow (kernels as
# they are); keras1th_theano_k1.h5 has no backend attribute, as Keras 1.0/1.1 files, and Theano's
# spatially flipped kernels, which the 'th' ordering alone must reveal. Both compute the twin's outputs.
flat_h, flat_w, flat_c = twin.layers[-4].input.shape[1:]   # the Flatten input (h, w, c)
def th_weights(flip):
    out = {}
    for n, ws in weights.items():
        if n.startswith("convolution2d"):
            k = ws[0].transpose(3, 2, 0, 1)               # HWIO -> OIHW
            if flip: k = k[:, :, ::-1, ::-1]
            out[n] = [np.ascontiguousarray(k), ws[1]]
        else:
            k = ws[0].reshape(flat_h, flat_w, flat_c, -1).transpose(2, 0, 1, 3).reshape(flat_h * flat_w * flat_c, -1)
            out[n] = [k, ws[1]]
    return out
th_layers = json.loads(json.dumps(k1_layers).replace('"dim_ordering": "tf"', '"dim_ordering": "th"'))
th_layers[0]["config"]["batch_input_shape"] = [None, 1, 12, 12]
for fname, backend, flip in [("keras1th_tf_k1.h5", b"tensorflow", False), ("keras1th_theano_k1.h5", None, True)]:
    ws_th = th_weights(flip)
    with h5py.File(os.path.join(out, fname), "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        if backend: f.attrs["backend"] = backend
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": th_layers}).encode()
        g = f.create_group("model_weights")
        names = [l["config"]["name"] for l in th_layers]
        g.attrs["layer_names"] = [n.encode() for n in names]
        for n in names:
            lg = g.create_group(n)
            ws = ws_th.get(n, [])
            wn = [f"{n}_W:0".encode(), f"{n}_b:0".encode()][:len(ws)]
            lg.attrs["weight_names"] = wn
            for name, v in zip(wn, ws):
                lg.create_dataset(name.decode(), data=v)
    record(fname, None, x, p, "keras1")

# Teachable Machine's keras_model.h5 shape: a MobileNetV2-style Functional nested in a Sequential
# inside a Sequential, a Sequential head, and a `groups` key in DepthwiseConv2D configs (which tf_keras
# itself rejects on load).
def teachable(K):
    L = K.layers
    i = K.Input((16, 16, 3))
    x = L.Conv2D(4, 3, strides=2, padding="same", use_bias=False, name="Conv1")(i)
    x = L.BatchNormalization(name="bn_Conv1")(x)
    x = L.ReLU(6.0, name="Conv1_relu")(x)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="expanded_conv_depthwise")(x)
    y = L.BatchNormalization(name="expanded_conv_depthwise_BN")(y)
    y = L.ReLU(6.0, name="expanded_conv_depthwise_relu")(y)
    y = L.Conv2D(4, 1, use_bias=False, name="expanded_conv_project")(y)
    y = L.BatchNormalization(name="expanded_conv_project_BN")(y)
    x = L.Add(name="expanded_conv_add")([x, y])
    x = L.GlobalAveragePooling2D(name="global_average_pooling2d_GlobalAveragePooling2D1")(x)
    base = K.Model(i, x, name="mobilenetv2_1.00_224")
    trunk = K.Sequential([K.Input((16, 16, 3)), base], name="sequential_1")
    head = K.Sequential([L.Dense(5, activation="relu", name="dense_Dense1"),
                         L.Dense(3, activation="softmax", name="dense_Dense2")], name="sequential_3")
    return K.Sequential([K.Input((16, 16, 3)), trunk, head], name="sequential_4")


tm = teachable(k2)
tm.set_weights(perturb(tm, 6))
x = np.random.default_rng(106).random((2, 16, 16, 3)).astype("float32").round(6)
p = tm.predict(x, verbose=0)
path = os.path.join(out, "teachable_k2.h5")
tm.save(path)
with h5py.File(path, "r+") as f:
    cfg = f.attrs["model_config"]
    cfg = json.loads(cfg.decode() if isinstance(cfg, bytes) else cfg)
    def add_groups(layer):
        if layer["class_name"] == "DepthwiseConv2D": layer["config"]["groups"] = 1
        for inner in layer.get("config", {}).get("layers", []): add_groups(inner)
    add_groups(cfg)
    f.attrs["model_config"] = json.dumps(cfg).encode()
record("teachable_k2.h5", None, x, p, "teachable")


# channels_first: TF cannot run NCHW convolutions on CPU, so the file is a channels-last twin's weights
# and config transposed (data_format, input shape, BatchNorm and Concatenate axes, and the rows of the
# Dense after Flatten, which a channels_first Flatten orders (c, h, w)); its probabilities are the twin's.
def cf_twin(K):
    L = K.layers
    i = K.Input((8, 8, 2))
    a = L.Conv2D(4, 3, padding="same", activation="relu")(i)
    a = L.BatchNormalization()(a)
    b = L.DepthwiseConv2D(3, padding="same")(a)
    a = L.Concatenate()([a, b])
    a = L.MaxPooling2D(2)(a)
    a = L.Conv2D(3, 3)(a)
    a = L.Flatten()(a)
    o = L.Dense(3, activation="softmax")(a)
    return K.Model(i, o)


twin = cf_twin(k2)
twin.set_weights(perturb(twin, 7))
x = np.random.default_rng(107).random((2, 8, 8, 2)).astype("float32").round(6)
p = twin.predict(x, verbose=0)
path = os.path.join(out, "channelsfirst_k2.h5")
twin.save(path)
with h5py.File(path, "r+") as f:
    cfg = f.attrs["model_config"]
    cfg = json.loads(cfg.decode() if isinstance(cfg, bytes) else cfg)
    flat_shape = None
    for layer in cfg["config"]["layers"]:
        c = layer["config"]
        if "data_format" in c: c["data_format"] = "channels_first"
        if layer["class_name"] == "InputLayer":
            s = c["batch_input_shape"]; c["batch_input_shape"] = [s[0], s[3], s[1], s[2]]
        if layer["class_name"] == "BatchNormalization": c["axis"] = [1]
        if layer["class_name"] == "Concatenate": c["axis"] = 1
    f.attrs["model_config"] = json.dumps(cfg).encode()
    # The Dense after Flatten: Keras rows in (h, w, c) order -> (c, h, w).
    flat = twin.get_layer(index=-2).input.shape[1:]    # the Conv2D output (h, w, c)
    dense = [l for l in twin.layers if l.__class__.__name__ == "Dense"][0]
    g = f["model_weights"][dense.name]
    kname = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]][0]
    k = g[kname][()]
    h, w, c = flat
    g[kname][...] = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
record("channelsfirst_k2.h5", None, x, p, "channelsfirst")

json.dump({"files": manifest, "inputs_nhwc": inputs, "cli_mnist_input_png": cli}, open(os.path.join(out, "manifest.json"), "w"))
print("wrote", len(manifest), "entries;", sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)), "bytes")
