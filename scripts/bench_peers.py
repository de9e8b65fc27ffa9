#!/usr/bin/env python3
"""Peer side of `finetune bench` (issue #7): runs one workload in PyTorch or TensorFlow and prints ONE
JSON line {framework, version, workload, batch, img_s, seconds, rss_mb, ...}.

    bench_peers.py --framework torch|tf --workload NAME [--threads 2] [--iterations N] [--warmup N] --json

Same models and batch sizes as the Graft side (Sources/Training/Jobs/BenchJob.swift):
  vgg16-infer      VGG16 224px (keras.applications shape, with top), inference, batch 16
  vgg16-frozen     VGG16 conv trunk (no top) frozen + Flatten + Dense(3) trained: one SGD step, batch 16
  vgg16-train      VGG16 224px with top (no dropout, as Keras), full training step, batch 16
  resnet50-infer   ResNet50 v1 (keras.applications: stride on the first 1x1), inference, batch 16
  resnet50-train   ResNet50 v1 full training step, batch 16
  mobilenetv2-infer  MobileNetV2 alpha 1.0 224px with top (keras.applications; torchvision mobilenet_v2 is the
                   same network: its classifier Dropout(0.2) is removed, as Keras has none), inference, batch 16
  mobilenetv2-train  MobileNetV2 full training step, batch 16
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
         "resnet50-train": 16, "mobilenetv2-infer": 16, "mobilenetv2-train": 16, "lenet5-train": 64, "resnet20-train": 64, "vgg16-cached": 16}
INPUT = {"lenet5-train": (1, 28, 10), "resnet20-train": (3, 32, 10)}  # channels, size, classes


def workload_input(w):
    """(channels, size, classes) of a workload's input and output; the frozen/cached heads have 3 classes."""
    if w in ("vgg16-frozen", "vgg16-cached"):
        return 3, 224, 3
    if w.startswith("vgg16") or w.startswith("resnet50") or w.startswith("mobilenetv2"):
        return 3, 224, 1000
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

def run_torch(w, threads, warmup, iterations):
    import torch
    import torch.nn as nn
    import torchvision
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
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
    elif w == "lenet5-train":
        model = LeNet5()
    else:
        model = ResNet20()
    x = torch.rand(b, c, size, size)
    y = torch.randint(0, classes, (b,))
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
    return {"version": torch.__version__, "times": times}


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
    return {"version": tf.__version__, "times": times}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--framework", required=True, choices=["torch", "tf"])
    ap.add_argument("--workload", required=True, choices=sorted(BATCH))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON line (the default output anyway)")
    a = ap.parse_args()
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[k] = str(a.threads)
    out = {"framework": a.framework, "workload": a.workload, "batch": BATCH[a.workload], "threads": a.threads}
    runner = run_torch if a.framework == "torch" else run_tf
    try:
        r = runner(a.workload, a.threads, a.warmup, max(1, a.iterations))
    except ImportError as e:
        out["skipped"] = "%s not importable by %s: %s" % (a.framework, sys.executable, e)
        print(json.dumps(out))
        return 0
    sec = median(r["times"])
    out.update({"version": r["version"], "seconds": sec, "img_s": BATCH[a.workload] / sec,
                "times": r["times"], "rss_mb": rss_mb(), "python": sys.executable})
    if a.workload == "vgg16-cached":
        # 10 epochs x 600 images, the trunk recomputed every epoch (Keras/PyTorch fine-tuning):
        # extrapolated from the measured frozen-trunk step rate.
        out["total_seconds"] = 6000.0 / out["img_s"]
        out["note"] = "extrapolated: 6000 images / measured frozen-step img/s"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
