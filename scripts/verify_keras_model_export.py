"""Checks `finetune export --format keras-h5` files with tf_keras (CI never runs this).

usage: verify_keras_model_export.py EXPORTED.h5 MODEL_NAME [MODEL_NAME ...]
Loads each exported full-model file with tf_keras.models.load_model() (and load_weights() into the
loaded model again) and compares its probabilities on the fixture inputs of MODEL_NAME
(Tests/WeightIOTests/Fixtures/kerasfiles/manifest.json) with the original Keras probabilities.
"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np
import tf_keras as keras

here = os.path.dirname(os.path.abspath(__file__))
manifest = json.load(open(os.path.join(here, "..", "Tests", "WeightIOTests", "Fixtures", "kerasfiles", "manifest.json")))
worst = 0.0
for path, name in zip(sys.argv[1::2], sys.argv[2::2]):
    m = keras.models.load_model(path, compile=False)
    m.load_weights(path)
    x = np.array(manifest["inputs_nhwc"][name], dtype="float32")
    ref = next(f for f in manifest["files"] if f["model"] == name and "k2" in f["file"] or f["file"].startswith(name + "_k1"))
    p = m.predict(x, verbose=0)
    d = float(np.abs(p - np.array(ref["probabilities"])).max())
    worst = max(worst, d)
    print(f"{path}: tf_keras load_model max |dp| vs {ref['file']}: {d:.3g}")
sys.exit(0 if worst < 1e-4 else 1)
