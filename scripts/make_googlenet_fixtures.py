#!/usr/bin/env python3
"""Make the GoogLeNet parity fixture from torchvision (run by hand; outputs are committed).

Debian's PyTorch 1.13 / torchvision 0.14:  apt-get install python3-torch python3-torchvision python3-h5py
    /usr/bin/python3 scripts/make_googlenet_fixtures.py
    /usr/bin/python3 scripts/make_googlenet_fixtures.py --convert googlenet-1378be20.pth OUT.h5
        # converts a torchvision googlenet state_dict (aux heads dropped) into the Keras-2 layout Graft
        # imports (`finetune predict --base googlenet --weights OUT.h5`; feed 'tf'-preprocessed images)

Full-width torchvision GoogLeNet is 6.6M parameters (26 MB), too big to commit, so the fixture is the same
network at width 1/8 (every channel count x 0.125, as Graft's ZooOptions(widthMultiplier: 0.125) scales
it), built from torchvision's own BasicConv2d and Inception blocks with GoogLeNet's forward. The script
also checks that this builder at width 1 has exactly torchvision.models.googlenet(aux_logits=False)'s
state_dict, and that transform_input=True on torch-normalised input equals transform_input=False on
(x - 0.5) / 0.5 (Graft's `tf` preprocessing).

Writes Tests/WeightIOTests/Fixtures/:
    googlenet_w8_64.h5     Keras-2 `save_weights` layout (h5py) with Graft layer names (torchvision module
                           paths, '.' -> '_': conv1.conv -> conv1_conv, inception3a.branch2.0.bn ->
                           inception3a_branch2_0_bn, fc): HWIO kernels, (in, out) fc kernel, BN gamma/beta/
                           moving_mean/moving_variance; random weights, randomised BN statistics
    googlenet_w8_64_io.h5  `input` (2,3,64,64) NCHW, `output` (2,5) softmax of the logits (eval mode), and
                           `activations/<graft layer>` (2,C,H,W) NCHW for a few blocks
    googlenet_64_weights.txt, googlenet_64_io.h5
                           full-width torchvision.models.googlenet(aux_logits=False, num_classes=5) at 64 px with
                           the hash weights of make_fixtures.py (kernels sqrt(75 / fan_in) * h, as
                           make_inception_fixtures.py), generated in Keras layout (HWIO kernels, (in, out) fc)
                           and transposed into torch's; one `graft_layer/keras_weight d0,d1,...` line per tensor,
                           ordinal = line (state_dict order); io as above
"""
import math
import os

import h5py
import numpy as np
import torch
from torch import nn
import torchvision
from torchvision.models.googlenet import BasicConv2d, Inception

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "WeightIOTests", "Fixtures")
BLOCKS = [  # torchvision's Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) without `in`
    ("inception3a", [64, 96, 128, 16, 32, 32]), ("inception3b", [128, 128, 192, 32, 96, 64]),
    ("inception4a", [192, 96, 208, 16, 48, 64]), ("inception4b", [160, 112, 224, 24, 64, 64]),
    ("inception4c", [128, 128, 256, 24, 64, 64]), ("inception4d", [112, 144, 288, 32, 64, 64]),
    ("inception4e", [256, 160, 320, 32, 128, 128]),
    ("inception5a", [256, 160, 320, 32, 128, 128]), ("inception5b", [384, 192, 384, 48, 128, 128]),
]
PROBES = ["conv3_relu", "inception3a", "inception4e", "inception5b"]


class ScaledGoogLeNet(nn.Module):
    """torchvision's GoogLeNet (aux_logits=False, transform_input=False) with widths x `width`."""

    def __init__(self, width, classes):
        super().__init__()
        w = lambda c: max(1, int(math.floor(c * width + 0.5)))   # Swift's .rounded(): half away from zero
        self.conv1 = BasicConv2d(3, w(64), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(w(64), w(64), kernel_size=1)
        self.conv3 = BasicConv2d(w(64), w(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        c = w(192)
        for name, widths in BLOCKS:
            s = [w(x) for x in widths]
            setattr(self, name, Inception(c, *s))
            c = s[0] + s[2] + s[4] + s[5]
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.2)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):   # GoogLeNet._forward without the aux heads
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.inception3b(self.inception3a(x))
        x = self.maxpool3(x)
        for n in ["inception4a", "inception4b", "inception4c", "inception4d", "inception4e"]:
            x = getattr(self, n)(x)
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def randomise(model, gen):
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            elif isinstance(m, nn.Linear):
                # Small: the pooled features reach ~100, and a saturated softmax would hide errors.
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.003)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def keras2_layers(model):
    """(graft layer, [(weight name, array)]) in module order, Keras layouts."""
    layers = []
    for name, m in model.named_modules():
        layer = name.replace(".", "_")
        if isinstance(m, nn.Conv2d):
            layers.append((layer, [("kernel", m.weight.detach().permute(2, 3, 1, 0).numpy())]))
        elif isinstance(m, nn.BatchNorm2d):
            layers.append((layer, [("gamma", m.weight.detach().numpy()), ("beta", m.bias.detach().numpy()),
                                   ("moving_mean", m.running_mean.numpy()), ("moving_variance", m.running_var.numpy())]))
        elif isinstance(m, nn.Linear):
            layers.append((layer, [("kernel", m.weight.detach().t().numpy()), ("bias", m.bias.detach().numpy())]))
    return layers


def write_keras2(path, layers):
    s = h5py.string_dtype()
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.21.0"
        f.attrs.create("layer_names", [n for n, _ in layers], dtype=s)
        for n, ws in layers:
            g = f.create_group(n)
            names = [f"{n}/{w}:0" for w, _ in ws]
            g.attrs.create("weight_names", names, dtype=s)
            for wn, (_, a) in zip(names, ws):
                g.create_dataset(wn, data=np.ascontiguousarray(a, np.float32))


def main():
    # The builder at width 1 is torchvision's googlenet, key for key and shape for shape.
    ref = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    ours = ScaledGoogLeNet(1.0, 1000)
    a = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert a == b, set(a.items()) ^ set(b.items())
    print("torchvision googlenet:", sum(p.numel() for p in ref.parameters()), "parameters")
    # transform_input is the tf preprocessing.
    gen = torch.Generator().manual_seed(1)
    ref.eval()
    x01 = torch.rand((1, 3, 64, 64), generator=gen)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref.transform_input = True
        y1 = ref((x01 - mean) / std)
        ref.transform_input = False
        y2 = ref((x01 - 0.5) / 0.5)
    print("transform_input vs tf preprocessing: max |d logits|", float((y1 - y2).abs().max()))
    assert float((y1 - y2).abs().max()) < 1e-4

    gen = torch.Generator().manual_seed(2026)
    model = ScaledGoogLeNet(0.125, 5)
    randomise(model, gen)
    model.eval()
    x = torch.randn((2, 3, 64, 64), generator=gen)
    acts = {}
    hooks = [getattr(model, n.split("_")[0]).register_forward_hook(lambda m, i, o, n=n: acts.__setitem__(n, o))
             for n in PROBES]
    with torch.no_grad():
        y = torch.softmax(model(x), dim=1)
        for h in hooks:
            h.remove()
        y2 = torch.softmax(model(x * 1.01), dim=1)
    write_keras2(os.path.join(OUT, "googlenet_w8_64.h5"), keras2_layers(model))
    with h5py.File(os.path.join(OUT, "googlenet_w8_64_io.h5"), "w") as f:
        f.create_dataset("input", data=x.numpy().astype(np.float32))
        f.create_dataset("output", data=y.numpy().astype(np.float32))
        for n in PROBES:
            f.create_dataset(f"activations/{n}", data=acts[n].numpy().astype(np.float32))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"googlenet_w8_64: {n_params} parameters, output {y[0].numpy()}, "
          f"|d out| for 1% input change {float((y2 - y).abs().max()):.3g}")
    for n in PROBES:
        print(f"  {n}: {tuple(acts[n].shape)} max |a| {float(acts[n].abs().max()):.3g}")


def hash_values(t, shape, kind):
    """make_fixtures.py's hash weights with kernel numerator 75 (make_inception_fixtures.py's)."""
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.uint64)
    u = (i * np.uint64(2654435761) + np.uint64((t + 1) * 40503 + 12345)) % np.uint64(1 << 32)
    h = u.astype(np.float64) / float(1 << 32) - 0.5
    v = {"kernel": lambda: np.sqrt(75.0 / int(np.prod(shape[:-1]))) * h, "bias": lambda: 0.1 * h,
         "beta": lambda: 0.1 * h, "gamma": lambda: 1.0 + 0.4 * h, "moving_mean": lambda: 0.2 * h,
         "moving_variance": lambda: 1.0 + 0.8 * (h + 0.5)}[kind]()
    return v.astype(np.float32).reshape(shape)


def full_size_hash():
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False, num_classes=5)
    model.eval()
    names = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
    lines, state = [], {}
    for t, (key, v) in enumerate((k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")):
        module, param = key.rsplit(".", 1)
        layer = module.replace(".", "_")
        if v.dim() == 4:      # conv OIHW <- HWIO
            kshape = tuple(v.permute(2, 3, 1, 0).shape)
            state[key] = torch.from_numpy(hash_values(t, kshape, "kernel")).permute(3, 2, 0, 1)
            lines.append((layer, "kernel", kshape))
        elif v.dim() == 2:    # fc (out, in) <- (in, out)
            kshape = (v.shape[1], v.shape[0])
            state[key] = torch.from_numpy(hash_values(t, kshape, "kernel")).t()
            lines.append((layer, "kernel", kshape))
        else:
            kind = "bias" if layer == "fc" else names[param]
            state[key] = torch.from_numpy(hash_values(t, tuple(v.shape), kind))
            lines.append((layer, kind, tuple(v.shape)))
    model.load_state_dict({**model.state_dict(), **state})
    gen = torch.Generator().manual_seed(64)
    x = torch.rand((2, 3, 64, 64), generator=gen) * 2 - 1
    acts = {}
    hooks = [getattr(model, n).register_forward_hook(lambda m, i, o, n=n: acts.__setitem__(n, o))
             for n in ["inception3b", "inception4e", "inception5b"]]
    with torch.no_grad():
        y = torch.softmax(model(x), dim=1)
        for h in hooks:
            h.remove()
        y2 = torch.softmax(model(x * 1.01), dim=1)
    with open(os.path.join(OUT, "googlenet_64_weights.txt"), "w") as f:
        f.write("".join(f"{l}/{w} {','.join(str(d) for d in s)}\n" for l, w, s in lines))
    with h5py.File(os.path.join(OUT, "googlenet_64_io.h5"), "w") as f:
        f.create_dataset("input", data=x.numpy().astype(np.float32))
        f.create_dataset("output", data=y.numpy().astype(np.float32))
        for n, a in acts.items():
            f.create_dataset(f"activations/{n}", data=a[:1].numpy().astype(np.float32))
    print(f"googlenet_64: {len(lines)} tensors, output {y[0].numpy()}, "
          f"|d out| for 1% input change {float((y2 - y).abs().max()):.3g}")
    for n, a in acts.items():
        print(f"  {n}: {tuple(a.shape)} max |a| {float(a.abs().max()):.3g}")


def convert(state_dict_path, out_path):
    state = torch.load(state_dict_path, map_location="cpu")
    model = ScaledGoogLeNet(1.0, state["fc.weight"].shape[0])
    state = {k: v for k, v in state.items() if not k.startswith("aux")}
    model.load_state_dict(state)   # strict: every key of torchvision's googlenet without aux heads
    write_keras2(out_path, keras2_layers(model))
    print(f"{out_path}: {len(keras2_layers(model))} layers")


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 4 and sys.argv[1] == "--convert":
        convert(sys.argv[2], sys.argv[3])
    else:
        main()
        full_size_hash()
