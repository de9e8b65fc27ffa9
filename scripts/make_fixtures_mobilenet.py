#!/usr/bin/env python3
"""Make Graft's MobileNet / MobileNetV2 fixtures from keras.applications (run by hand; outputs committed).

Setup and environment as scripts/make_fixtures.py (whose helpers this imports). Run from the repository root:
    .venv/bin/python scripts/make_fixtures_mobilenet.py

Models (weights=None, then seeded random weights: He-uniform kernels, depthwise fan-in kh*kw, N(0, 0.05)
biases, BatchNorm gamma U(0.5, 1.5), beta N(0, 0.2), moving_mean N(0, 0.5), moving_variance U(0.5, 2)):
    mobilenet      keras.applications.MobileNet(alpha=0.25, input 64x64x3, classes=10), dropout 1e-3
    mobilenetv2    keras.applications.MobileNetV2(alpha=0.35, input 64x64x3, classes=10)
Each is built in a fresh session (clear_session) so Keras's automatic names are the unsuffixed ones
(`global_average_pooling2d`). The Keras 3 twin is built by keras.applications and gets the tf_keras
weights by layer name; its output must agree within 1e-5.

Outputs (Tests/WeightIOTests/Fixtures/), <m> = mobilenet or mobilenetv2:
    <m>_tfkeras.h5            tf_keras save_weights (Keras 2 layout)
    <m>_tfkeras_full.h5       tf_keras model.save (model_config + model_weights)
    <m>_keras3.weights.h5     Keras 3 save_weights
    <m>_io.h5                 `input` (2,64,64,3) NHWC in [-1, 1], `output` (2,10) softmax probabilities
    <m>_notop_tfkeras.h5      include_top=False (pooling=None) tf_keras save_weights, same trunk weights
    <m>_notop_io.h5           `input`, `output` = the (2,2,2,C) feature map, `pooled` = its spatial mean (2,C)
    <m>_67_io.h5              the same weights at 67x67 (odd sizes: symmetric 'same' and correct_pad padding)
    <m>_pixels_io.h5          `input` = integer pixels 0...255 (2,64,64,3) fed raw (no preprocessing),
                              `output` = probabilities (the CLI test writes the input as PNGs)
    mobilenet.keras           Keras 3 whole-model zip of the mobilenet twin (for a later .keras reader;
                              nothing reads it yet)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (sets up TF: CPU, one thread, no oneDNN)
from make_fixtures import np, tf_keras, keras, WIO, out, save_io, predict  # noqa: E402

MODELS = {
    "mobilenet": (lambda K, top, size=64: K.applications.MobileNet(
        input_shape=(size, size, 3), alpha=0.25, weights=None, classes=10, include_top=top), 11),
    "mobilenetv2": (lambda K, top, size=64: K.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=0.35, weights=None, classes=10, include_top=top), 12),
}


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            c = ws[0].shape
            new = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.5, c), rng.uniform(0.5, 2.0, c)]
        else:
            new = []
            for w in ws:
                if w.ndim == 4:
                    depthwise = isinstance(layer, tf_keras.layers.DepthwiseConv2D)
                    fan_in = w.shape[0] * w.shape[1] * (1 if depthwise else w.shape[2])
                    limit = np.sqrt(6.0 / fan_in)
                    new.append(rng.uniform(-limit, limit, w.shape))
                else:
                    new.append(rng.normal(0, 0.05, w.shape))
        layer.set_weights([np.asarray(v, np.float32) for v in new])


def build(K, name, top, size=64):
    K.backend.clear_session()
    return MODELS[name][0](K, top, size)


def copy_by_name(dst, src):
    for layer in dst.layers:
        if layer.get_weights():
            layer.set_weights(src.get_layer(layer.name).get_weights())


def make(name, x, pixels, x67):
    m2 = build(tf_keras, name, True)
    randomize(m2, MODELS[name][1])
    y = predict(m2, x)
    assert np.all(np.isfinite(y))
    # Not saturated and not uniform: the parity check then sees every layer.
    print(f"  {name}: {m2.count_params()} params, max prob {y.max(axis=1)}, min prob {y.min(axis=1)}, "
          f"|p(image 0) - p(image 1)| max {np.abs(y[0] - y[1]).max():.3g}")
    m2.save_weights(out(os.path.join(WIO, f"{name}_tfkeras.h5")))
    m2.save(out(os.path.join(WIO, f"{name}_tfkeras_full.h5")), save_format="h5")
    save_io(os.path.join(WIO, f"{name}_io.h5"), x, y)
    yp = predict(m2, pixels)
    print(f"  {name} on raw pixels: max prob {yp.max(axis=1)}")
    save_io(os.path.join(WIO, f"{name}_pixels_io.h5"), pixels, yp)

    # The same weights at 67 px: odd sides everywhere ('same' stride 2 pads (1, 1), correct_pad too).
    odd = build(tf_keras, name, True, 67)
    copy_by_name(odd, m2)
    save_io(os.path.join(WIO, f"{name}_67_io.h5"), x67, predict(odd, x67))

    m3 = build(keras, name, True)
    copy_by_name(m3, m2)
    y3 = np.asarray(m3(x, training=False), np.float32)
    diff = float(np.abs(y3 - y).max())
    assert diff < 1e-5, f"{name}: Keras 3 twin disagrees by {diff}"
    m3.save_weights(out(os.path.join(WIO, f"{name}_keras3.weights.h5")))
    if name == "mobilenet":   # the smaller of the two
        m3.save(out(os.path.join(WIO, f"{name}.keras")))

    n2 = build(tf_keras, name, False)
    copy_by_name(n2, m2)
    f = predict(n2, x)
    n2.save_weights(out(os.path.join(WIO, f"{name}_notop_tfkeras.h5")))
    save_io(os.path.join(WIO, f"{name}_notop_io.h5"), x, f)
    import h5py
    with h5py.File(os.path.join(WIO, f"{name}_notop_io.h5"), "a") as h:
        h.create_dataset("pooled", data=f.mean(axis=(1, 2)).astype(np.float32))
    print(f"  {name} notop: features {f.shape}, |f| max {np.abs(f).max():.3g}")


def main():
    rng = np.random.default_rng(2024)
    x = rng.uniform(-1.0, 1.0, (2, 64, 64, 3)).astype(np.float32)
    pixels = rng.integers(0, 256, (2, 64, 64, 3)).astype(np.float32)
    x67 = rng.uniform(-1.0, 1.0, (2, 67, 67, 3)).astype(np.float32)
    for name in MODELS:
        make(name, x, pixels, x67)
    total = 0
    for p in mf.WRITTEN:
        size = os.path.getsize(p)
        total += size
        print(f"  {os.path.relpath(p, mf.ROOT)}  {size} bytes")
    print(f"  total {total} bytes")


if __name__ == "__main__":
    main()
