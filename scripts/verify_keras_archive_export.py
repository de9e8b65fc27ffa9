"""Checks `finetune export --format keras` archives with Keras 3 (CI never runs this).

usage: verify_keras_archive_export.py EXPORTED.keras MODEL_NAME [EXPORTED.keras MODEL_NAME ...]
Loads each archive with keras.models.load_model() and compares its probabilities on the fixture
inputs of MODEL_NAME (Tests/WeightIOTests/Fixtures/kerasfiles/manifest.json) with Keras's.
"""
import json, os, sys
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import numpy as np
import keras

here = os.path.dirname(os.path.abspath(__file__))
manifest = json.load(open(os.path.join(here, "..", "Tests", "WeightIOTests", "Fixtures", "kerasfiles", "manifest.json")))
worst = 0.0
for path, name in zip(sys.argv[1::2], sys.argv[2::2]):
    m = keras.models.load_model(path, compile=False)
    x = np.array(manifest["inputs_nhwc"][name], dtype="float32")
    ref = next(f for f in manifest["files"] if f["model"] == name)
    d = float(np.abs(m.predict(x, verbose=0) - np.array(ref["probabilities"])).max())
    worst = max(worst, d)
    print(f"{path}: keras {keras.__version__} load_model max |dp| vs {ref['file']}: {d:.3g}")
sys.exit(0 if worst < 1e-4 else 1)
