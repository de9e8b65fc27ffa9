#!/usr/bin/env python3
"""Converts the Zoo parity fixtures (HDF5) into raw little-endian float32 files the Zoo tests can read
without HDF5 (Zoo does not link libhdf5).

For each model it writes Tests/ZooTests/Fixtures/parity/<model>.bin (all tensors, float32 LE, concatenated)
and <model>.json: {"tensors": [{"name": ..., "shape": [...], "offset": <element offset>}]}.
Names: "input" (NHWC), "output", "activations/<layer>" and, for the small models whose weights live in
Tests/WeightIOTests/Fixtures/<model>_tfkeras.h5, "weights/<layer>/<weight>" (Keras layout, e.g.
"weights/fc1/kernel").

Run from the repository root:  .venv/bin/python scripts/fixtures_to_bin.py
(or: python3 -m venv /tmp/zoovenv && /tmp/zoovenv/bin/pip install h5py numpy)
"""
import json
import os
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "Tests/ZooTests/Fixtures")
WEIGHTS = os.path.join(ROOT, "Tests/WeightIOTests/Fixtures")
DST = os.path.join(SRC, "parity")

MODELS = ["lenet5", "alexnet_small", "vgg_small", "resnet18_small", "vgg16_64", "resnet50_64"]


def collect(model):
    tensors = []
    with h5py.File(os.path.join(SRC, f"{model}_io.h5"), "r") as f:
        tensors.append(("input", f["input"][()]))
        tensors.append(("output", f["output"][()]))
        if "activations" in f:
            for name in sorted(f["activations"].keys()):
                tensors.append((f"activations/{name}", f["activations"][name][()]))
    wpath = os.path.join(WEIGHTS, f"{model}_tfkeras.h5")
    if os.path.exists(wpath):
        with h5py.File(wpath, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            for layer in root.attrs["layer_names"]:
                layer = layer.decode() if isinstance(layer, bytes) else str(layer)
                names = root[layer].attrs.get("weight_names", [])
                for wn in names:
                    wn = wn.decode() if isinstance(wn, bytes) else str(wn)
                    short = wn.split("/")[-1].split(":")[0]
                    tensors.append((f"weights/{layer}/{short}", root[layer][wn][()]))
    return tensors


def main():
    os.makedirs(DST, exist_ok=True)
    for model in MODELS:
        if not os.path.exists(os.path.join(SRC, f"{model}_io.h5")):
            print(f"skip {model}: no {model}_io.h5", file=sys.stderr)
            continue
        header, offset = [], 0
        with open(os.path.join(DST, f"{model}.bin"), "wb") as out:
            for name, arr in collect(model):
                a = np.ascontiguousarray(arr, dtype="<f4")
                out.write(a.tobytes())
                header.append({"name": name, "shape": list(a.shape), "offset": offset})
                offset += a.size
        with open(os.path.join(DST, f"{model}.json"), "w") as f:
            json.dump({"tensors": header}, f, indent=1)
        print(f"{model}: {len(header)} tensors, {offset * 4} bytes")


if __name__ == "__main__":
    main()
