#!/usr/bin/env python3
"""Peer side of `finetune bench` (issue #7): runs one workload in PyTorch, TensorFlow, ONNX Runtime or
OpenVINO and prints ONE JSON line {framework, version, workload, batch, img_s, seconds, rss_mb, precision, ...}.

    bench_peers.py --framework torch|tf|ort|openvino|openvino-f32 --workload NAME [--threads 2]
                   [--iterations N] [--warmup N] [--export-python PY] --json

ort, openvino and openvino-f32 run the inference workloads only, on the workload's PyTorch model (below)
exported to ONNX (random weights, batch 16, opset 13). The export runs in a separate process with
--export-python (a Python that imports torch and torchvision; default /usr/bin/python3) into
$TMPDIR/graft-bench-onnx/, reused by later runs. `openvino` is OpenVINO's default configuration (only
INFERENCE_NUM_THREADS set): its inference precision is what OpenVINO picks for the CPU, reported as
`precision`, with the precision its convolutions ran in as `note`; `openvino-f32` adds
INFERENCE_PRECISION_HINT=f32. ONNX Runtime (CPU execution provider) runs fp32.

Same models and batch sizes as the Graft side (Sources/Training/Jobs/BenchJob.swift):
  vgg16-infer      VGG16 224px (keras.applications shape, with top), inference, batch 16
  vgg16-frozen     VGG16 conv trunk (no top) frozen + Flatten + Dense(3) trained: one SGD step, batch 16
  vgg16-train      VGG16 224px with top (no dropout, as Keras), full training step, batch 16
  resnet50-infer   ResNet50 v1 (keras.applications: stride on the first 1x1), inference, batch 16
  resnet50-train   ResNet50 v1 full training step, batch 16
  mobilenetv2-infer  MobileNetV2 alpha 1.0 224px with top (keras.applications; torchvision mobilenet_v2 is the
                   same network: its classifier Dropout(0.2) is removed, as Keras has none), inference, batch 16
  mobilenetv2-train  MobileNetV2 full training step, batch 16
  inceptionv3-infer  InceptionV3 299px with top (keras.applications; torchvision inception_v3 without the
                   auxiliary classifier, transform_input off, is the same network), inference, batch 16
  lenet5-train     LeNet-5 28px (Keras-tutorial form: conv6 5x5 same + tanh, avgpool, conv16 5x5 + tanh,
                   avgpool, dense 120 tanh, 84 tanh, 10), training step, batch 64
  resnet20-train   ResNet-20 (He et al. 2015, CIFAR: 16/32/64 x 3 basic blocks, option-A shortcuts),
                   32px, training step, batch 64
  vgg16-cached     the frozen-trunk fine-tune of 10 epochs x 600 images, peers recompute the trunk every
                   epoch: measured as vgg16-frozen steps, extrapolated to 6000 images (img_s = step rate)
Training step = forward + softmax cross-entropy + backward + SGD(momentum 0.9) update. Random data.
Warm-up iterations are excluded; `seconds` is the median step time; img_s = batch / seconds.

Installing the peers (Debian 12):
    apt-get install -y python3-torch python3-torchvision      # PyTorch 1.13 for /usr/bin/python3
    python3 -m venv .venv && .venv/bin/pip install tensorflow-cpu   # optional; TF_ENABLE_ONEDNN_OPTS=1 is set here
A framework that cannot be imported gives {"skipped": "reason"} instead of numbers.
"""
import argparse
import json
import os
import resource
import sys
import time

BATCH = {"vgg16-infer": 16, "vgg16-frozen": 16, "vgg16-train": 16, "resnet50-infer": 16,
         "resnet50-train": 16, "mobilenetv2-infer": 16, "mobilenetv2-train": 16, "inceptionv3-infer": 16, "lenet5-train": 64, "resnet20-train": 64, "vgg16-cached": 16}
INPUT = {"lenet5-train": (1, 28, 10), "resnet20-train": (3, 32, 10)}  # channels, size, classes


def workload_input(w):
    """(channels, size, classes) of a workload's input and output; the frozen/cached heads have 3 classes."""
    if w in ("vgg16-frozen", "vgg16-cached"):
        return 3, 224, 3
    if w.startswith("vgg16") or w.startswith("resnet50") or w.startswith("mobilenetv2"):
        return 3, 224, 1000
    if w == "inceptionv3-infer":
        return 3, 299, 1000
    return INPUT[w]


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def timed(step, warmup, iterations):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


# ----------------------------------------------------------------------------------------------- torch

def torch_model(w):
    """The workload's PyTorch model (training mode) and a random batch (x, labels)."""
    import torch
    import torch.nn as nn
    import torchvision
    torch.manual_seed(0)
    b = BATCH[w]

    def resnet50_v1():
        m = torchvision.models.resnet50(weights=None) if hasattr(torchvision.models, "ResNet50_Weights") \
            else torchvision.models.resnet50(pretrained=False)
        # torchvision is "v1.5" (stride on the 3x3); keras.applications ResNet50 is v1 (stride on the first 1x1).
        for layer in (m.layer2, m.layer3, m.layer4):
            blk = layer[0]
            s = blk.conv2.stride
            blk.conv2.stride = (1, 1)
            blk.conv1.stride = s
        return m

    def vgg16():
        m = torchvision.models.vgg16(weights=None) if hasattr(torchvision.models, "VGG16_Weights") \
            else torchvision.models.vgg16(pretrained=False)
        for i, l in enumerate(m.classifier):
            if isinstance(l, nn.Dropout):
                m.classifier[i] = nn.Identity()  # Keras VGG16 has no dropout
        return m

    def mobilenet_v2():
        m = torchvision.models.mobilenet_v2(weights=None) if hasattr(torchvision.models, "MobileNet_V2_Weights") \
            else torchvision.models.mobilenet_v2(pretrained=False)
        for i, l in enumerate(m.classifier):
            if isinstance(l, nn.Dropout):
                m.classifier[i] = nn.Identity()  # Keras MobileNetV2 has no dropout
        return m

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
                                   nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                                   nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

        def forward(self, x):
            return self.f(x)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.pad = cout - cin
            self.stride = stride

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = self.b2(self.c2(y))
            s = x
            if self.stride != 1 or self.pad:
                s = x[:, :, ::self.stride, ::self.stride]
                s = nn.functional.pad(s, (0, 0, 0, 0, 0, self.pad))  # option A: zero channels
            return torch.relu(y + s)

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.b = nn.BatchNorm2d(16)
            layers, cin = [], 16
            for cout, stride in ((16, 1), (32, 2), (64, 2)):
                for i in range(3):
                    layers.append(Block(cin, cout, stride if i == 0 else 1))
                    cin = cout
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.layers(torch.relu(self.b(self.c(x))))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    c, size, classes = workload_input(w)
    if w in ("vgg16-frozen", "vgg16-cached"):
        trunk = vgg16().features
        for p in trunk.parameters():
            p.requires_grad = False
        trunk.eval()
        model = nn.Sequential(trunk, nn.Flatten(), nn.Linear(512 * 7 * 7, 3))
    elif w.startswith("vgg16"):
        model = vgg16()
    elif w.startswith("resnet50"):
        model = resnet50_v1()
    elif w.startswith("mobilenetv2"):
        model = mobilenet_v2()
    elif w == "inceptionv3-infer":
        model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=False)
    elif w == "lenet5-train":
        model = LeNet5()
    else:
        model = ResNet20()
    x = torch.rand(b, c, size, size)
    y = torch.randint(0, classes, (b,))
    return model, x, y


def run_torch(w, threads, warmup, iterations):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    model, x, y = torch_model(w)
    if w.endswith("-infer"):
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        if w not in ("vgg16-frozen", "vgg16-cached"):
            model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.001, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
    times = timed(step, warmup, iterations)
    return {"version": torch.__version__, "times": times, "precision": "fp32"}


# ------------------------------------------------------------------------- ONNX Runtime and OpenVINO

def export_onnx(w, path):
    """Writes the PyTorch model of inference workload `w` (eval mode, batch 16) to `path` as ONNX."""
    import torch
    model, x, _ = torch_model(w)
    model.eval()
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=13, input_names=["input"], output_names=["output"])
    os.replace(tmp, path)


def onnx_model(w, export_python):
    """Path of the workload's ONNX file, exported first (by `export_python`) when missing."""
    import subprocess
    import tempfile
    if not w.endswith("-infer"):
        raise ValueError("inference workloads only")
    d = os.path.join(tempfile.gettempdir(), "graft-bench-onnx")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, w + ".onnx")
    if not os.path.exists(path):
        r = subprocess.run([export_python, os.path.abspath(__file__), "--export-onnx", path, "--workload", w],
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(path):
            raise ImportError("ONNX export with %s failed: %s" % (export_python, r.stderr.strip()[-300:]))
    return path


def infer_input(w):
    import numpy as np
    c, size, _ = workload_input(w)
    return np.random.default_rng(0).random((BATCH[w], c, size, size), dtype=np.float32)


def run_ort(w, threads, warmup, iterations, export_python):
    import onnxruntime as ort
    path = onnx_model(w, export_python)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = infer_input(w)
    times = timed(lambda: sess.run(None, {"input": x}), warmup, iterations)
    return {"version": ort.__version__, "times": times, "precision": "fp32"}


def run_openvino(w, threads, warmup, iterations, export_python, f32):
    import openvino as ov
    path = onnx_model(w, export_python)
    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads}
    if f32:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = core.compile_model(core.read_model(path), "CPU", config)
    request = compiled.create_infer_request()
    x = infer_input(w)
    times = timed(lambda: request.infer({0: x}), warmup, iterations)
    precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    # The hint is a request; the executed graph says what the convolutions ran in, with which kernels.
    ran = {}
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) == "Convolution":
            key = "%s %s" % (info["runtimePrecision"].astype(str), info["primitiveType"].astype(str))
            ran[key] = ran.get(key, 0) + 1
    return {"version": ov.get_version(), "times": times, "precision": precision,
            "note": "convolutions: " + ", ".join("%s x%d" % kv for kv in sorted(ran.items()))}


# ---------------------------------------------------------------------------------------------- tensorflow

def run_tf(w, threads, warmup, iterations):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras = tf.keras
    layers = keras.layers
    tf.random.set_seed(0)
    b = BATCH[w]

    class ShortcutA(layers.Layer):
        def __init__(self, stride, pad, **kw):
            super().__init__(**kw)
            self.stride, self.pad = stride, pad

        def call(self, x):
            if self.stride != 1:
                x = x[:, ::self.stride, ::self.stride, :]
            if self.pad:
                x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.pad]])
            return x

    def resnet20():
        inp = keras.Input((32, 32, 3))
        x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inp)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                s = stride if i == 0 else 1
                y = layers.Conv2D(cout, 3, strides=s, padding="same", use_bias=False)(x)
                y = layers.ReLU()(layers.BatchNormalization()(y))
                y = layers.BatchNormalization()(layers.Conv2D(cout, 3, padding="same", use_bias=False)(y))
                sc = ShortcutA(s, cout - cin)(x) if (s != 1 or cout != cin) else x
                x = layers.ReLU()(layers.Add()([y, sc]))
                cin = cout
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inp, layers.Dense(10)(x))

    def lenet5():
        return keras.Sequential([keras.Input((28, 28, 1)),
                                 layers.Conv2D(6, 5, padding="same", activation="tanh"), layers.AveragePooling2D(2),
                                 layers.Conv2D(16, 5, activation="tanh"), layers.AveragePooling2D(2), layers.Flatten(),
                                 layers.Dense(120, activation="tanh"), layers.Dense(84, activation="tanh"),
                                 layers.Dense(10)])

    c, size, classes = workload_input(w)
    if w in ("vgg16-frozen", "vgg16-cached"):
        base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
        base.trainable = False
        model = keras.Sequential([base, layers.Flatten(), layers.Dense(3)])
    elif w.startswith("vgg16"):
        model = keras.applications.VGG16(weights=None, input_shape=(224, 224, 3), classifier_activation=None)
    elif w.startswith("resnet50"):
        model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classifier_activation=None)
    elif w.startswith("mobilenetv2"):
        model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3), classifier_activation=None)
    elif w == "inceptionv3-infer":
        model = keras.applications.InceptionV3(weights=None, input_shape=(299, 299, 3), classifier_activation=None)
    elif w == "lenet5-train":
        model = lenet5()
    else:
        model = resnet20()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((b, size, size, c), dtype=np.float32))
    y = tf.constant(rng.integers(0, classes, b))
    if w.endswith("-infer"):
        f = tf.function(lambda t: model(t, training=False))

        def step():
            f(x).numpy()
    else:
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.001, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

        def step():
            model.train_on_batch(x, y)
    times = timed(step, warmup, iterations)
    return {"version": tf.__version__, "times": times, "precision": "fp32"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--framework", choices=["torch", "tf", "ort", "openvino", "openvino-f32"])
    ap.add_argument("--workload", required=True, choices=sorted(BATCH))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output anyway)")
    ap.add_argument("--export-python", default="/usr/bin/python3",
                    help="Python that imports torch, for the ONNX export of ort/openvino (default /usr/bin/python3)")
    ap.add_argument("--export-onnx", metavar="PATH", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.export_onnx:
        export_onnx(a.workload, a.export_onnx)
        return 0
    if not a.framework:
        ap.error("--framework is required")
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[k] = str(a.threads)
    out = {"framework": a.framework, "workload": a.workload, "batch": BATCH[a.workload], "threads": a.threads}
    its = max(1, a.iterations)
    runners = {
        "torch": lambda: run_torch(a.workload, a.threads, a.warmup, its),
        "tf": lambda: run_tf(a.workload, a.threads, a.warmup, its),
        "ort": lambda: run_ort(a.workload, a.threads, a.warmup, its, a.export_python),
        "openvino": lambda: run_openvino(a.workload, a.threads, a.warmup, its, a.export_python, False),
        "openvino-f32": lambda: run_openvino(a.workload, a.threads, a.warmup, its, a.export_python, True),
    }
    if a.framework in ("ort", "openvino", "openvino-f32") and not a.workload.endswith("-infer"):
        out["skipped"] = "%s runs the inference workloads only" % a.framework
        print(json.dumps(out))
        return 0
    try:
        r = runners[a.framework]()
    except ImportError as e:
        out["skipped"] = "%s not importable by %s: %s" % (a.framework, sys.executable, e)
        print(json.dumps(out))
        return 0
    sec = median(r["times"])
    out.update({"version": r["version"], "seconds": sec, "img_s": BATCH[a.workload] / sec,
                "times": r["times"], "rss_mb": rss_mb(), "python": sys.executable})
    for k in ("precision", "note"):
        if k in r:
            out[k] = r[k]
    if a.workload == "vgg16-cached":
        # 10 epochs x 600 images, the trunk recomputed every epoch (Keras/PyTorch fine-tuning):
        # extrapolated from the measured frozen-trunk step rate.
        out["total_seconds"] = 6000.0 / out["img_s"]
        out["note"] = "extrapolated: 6000 images / measured frozen-step img/s"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
