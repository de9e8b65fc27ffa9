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
