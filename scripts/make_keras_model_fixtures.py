"""Keras-made full-model files for the model-from-file tests (tf_keras 2.21; CI never runs this).

Writes Tests/WeightIOTests/Fixtures/kerasfile_mnist_cnn.h5 (the Keras MNIST tutorial CNN, automatic
names, scaled down to 12x12) and kerasfile_mnist_cnn.json: the input and Keras's probabilities.
"""
import json, os
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tf_keras as keras

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "WeightIOTests", "Fixtures")
keras.utils.set_random_seed(7)
m = keras.Sequential([
    keras.Input(shape=(12, 12, 1)),
    keras.layers.Conv2D(4, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),
    keras.layers.Conv2D(6, kernel_size=(3, 3), activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(3, activation="softmax"),
])
x = np.random.default_rng(1).random((2, 12, 12, 1)).astype("float32")
p = m.predict(x, verbose=0)
m.save(os.path.join(out, "kerasfile_mnist_cnn.h5"))
json.dump({"input_nhwc": x.round(6).tolist(), "probabilities": p.tolist()},
          open(os.path.join(out, "kerasfile_mnist_cnn.json"), "w"))
print(p)

# A functional CNN: BatchNorm + Activation layers, Add, DepthwiseConv2D, Concatenate, LeakyReLU,
# ZeroPadding2D and global pooling, automatic names.
L = keras.layers
i = keras.Input(shape=(10, 10, 3))
a = L.ZeroPadding2D(1)(i)
a = L.Conv2D(8, 3, strides=2, use_bias=False)(a)
a = L.BatchNormalization(epsilon=1e-5)(a)
a = L.Activation("relu")(a)
b = L.DepthwiseConv2D(3, padding="same")(a)
b = L.LeakyReLU(alpha=0.1)(b)
a = L.Add()([a, b])
c = L.Conv2D(4, 1, activation="elu")(a)
a = L.Concatenate()([a, c])
a = L.GlobalAveragePooling2D()(a)
o = L.Dense(3)(a)
o = L.Activation("softmax")(o)
f = keras.Model(i, o)
for w in f.weights:   # BatchNorm statistics other than 0/1, so they matter
    if "moving_variance" in w.name: w.assign(np.random.default_rng(2).uniform(0.5, 1.5, w.shape).astype("float32"))
    if "moving_mean" in w.name: w.assign(np.random.default_rng(4).uniform(-0.2, 0.2, w.shape).astype("float32"))
    if "dense" in w.name and "kernel" in w.name: w.assign(w * 8.0)   # probabilities far from uniform
x = np.random.default_rng(3).random((2, 10, 10, 3)).astype("float32")
p = f.predict(x, verbose=0)
f.save(os.path.join(out, "kerasfile_functional.h5"))
json.dump({"input_nhwc": x.round(6).tolist(), "probabilities": p.tolist()},
          open(os.path.join(out, "kerasfile_functional.json"), "w"))
print(p)

# The CLI test's image (values 0...2 so `--preprocess none` keeps the softmax unsaturated); Keras's
# probabilities for it are in Tests/CLITests/KerasFileCLITests.swift.
from PIL import Image
a = (np.random.default_rng(5).random((12, 12)) * 3).astype("uint8")
Image.fromarray(a, "L").save(os.path.join(out, "kerasfile_mnist_cnn_input.png"))
print(m.predict(a[None, :, :, None].astype("float32"), verbose=0).tolist())
