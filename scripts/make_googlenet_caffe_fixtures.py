#!/usr/bin/env python3
"""Make the googlenet-caffe parity fixture (run by hand; outputs are committed).

No Caffe here: the reference is BVLC GoogLeNet's deploy.prototxt written out in PyTorch (Caffe's
semantics: biases, in-place ReLU, ACROSS_CHANNELS LRN = torch's LocalResponseNorm, ceil-rounded pools,
pool5/7x7_s1 = global average at 224). At width 1/8 (channels x 0.125, as ZooOptions(widthMultiplier:)
scales them), 64 px, 5 classes, random weights, so the files stay small.

    /usr/bin/python3 scripts/make_googlenet_caffe_fixtures.py      (Debian python3-torch, python3-h5py)

Writes Tests/WeightIOTests/Fixtures/:
    googlenet_caffe_w8_64.h5     Caffe HDF5 caffemodel layout: data/<layer>/<blob> with Caffe's layer names;
                                 a name with '/' is a nested group (data/conv1/7x7_s2/0, OIHW kernel; /1 bias);
                                 the ReLU layers are empty groups, as Caffe writes weightless layers
    googlenet_caffe_w8_64_io.h5  `input` (2,3,64,64) NCHW (BGR, mean-subtracted scale), `output` (2,5) softmax,
                                 `activations/<graft layer>` NCHW
"""
import math
import os

import h5py
import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "WeightIOTests", "Fixtures")
BLOCKS = [  # 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj
    ("3a", [64, 96, 128, 16, 32, 32]), ("3b", [128, 128, 192, 32, 96, 64]),
    ("4a", [192, 96, 208, 16, 48, 64]), ("4b", [160, 112, 224, 24, 64, 64]),
    ("4c", [128, 128, 256, 24, 64, 64]), ("4d", [112, 144, 288, 32, 64, 64]),
    ("4e", [256, 160, 320, 32, 128, 128]),
    ("5a", [256, 160, 320, 32, 128, 128]), ("5b", [384, 192, 384, 48, 128, 128]),
]
PROBES = ["conv2_norm2", "inception_3a_output", "inception_4e_output", "inception_5b_output"]


class CaffeGoogLeNet(nn.Module):
    def __init__(self, width, classes):
        super().__init__()
        w = lambda c: max(1, int(math.floor(c * width + 0.5)))
        self.convs = nn.ModuleDict()   # Caffe name with '/' -> '|' (ModuleDict keys cannot hold '.')
        self.acts = {}

        def conv(name, cin, cout, k, pad=0, stride=1):
            self.convs[name.replace("/", "|")] = nn.Conv2d(cin, cout, k, stride=stride, padding=pad)
            return cout
        c = conv("conv1/7x7_s2", 3, w(64), 7, 3, 2)
        c = conv("conv2/3x3_reduce", c, w(64), 1)
        c = conv("conv2/3x3", c, w(192), 3, 1)
        for b, ws in BLOCKS:
            s = [w(x) for x in ws]
            p = f"inception_{b}"
            conv(p + "/1x1", c, s[0], 1)
            conv(p + "/3x3_reduce", c, s[1], 1)
            conv(p + "/3x3", s[1], s[2], 3, 1)
            conv(p + "/5x5_reduce", c, s[3], 1)
            conv(p + "/5x5", s[3], s[4], 5, 2)
            conv(p + "/pool_proj", c, s[5], 1)
            c = s[0] + s[2] + s[4] + s[5]
        self.fc = nn.Linear(c, classes)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def cv(self, name, x):
        return torch.relu(self.convs[name.replace("/", "|")](x))

    def forward(self, x):
        pool = lambda t, k, s, p=0: nn.functional.max_pool2d(t, k, s, p, ceil_mode=True)
        x = self.lrn(pool(self.cv("conv1/7x7_s2", x), 3, 2))
        x = self.lrn(self.cv("conv2/3x3", self.cv("conv2/3x3_reduce", x)))
        self.acts["conv2_norm2"] = x
        x = pool(x, 3, 2)
        for b, _ in BLOCKS:
            if b == "4a" or b == "5a":
                x = pool(x, 3, 2)
            p = f"inception_{b}"
            y = [self.cv(p + "/1x1", x), self.cv(p + "/3x3", self.cv(p + "/3x3_reduce", x)),
                 self.cv(p + "/5x5", self.cv(p + "/5x5_reduce", x)), self.cv(p + "/pool_proj", pool(x, 3, 1, 1))]
            x = torch.cat(y, 1)
            self.acts[p + "_output"] = x
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))   # dropout: identity in eval


def main():
    print("bvlc_googlenet at width 1 (as written here):", sum(p.numel() for p in CaffeGoogLeNet(1.0, 1000).parameters()))
    gen = torch.Generator().manual_seed(2027)
    model = CaffeGoogLeNet(0.125, 5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / m.weight[0].numel()))
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.5)
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=gen) * FC_STD)
        model.fc.bias.copy_(torch.randn(model.fc.bias.shape, generator=gen) * 0.1)
    model.eval()
    x = (torch.rand((2, 3, 64, 64), generator=gen) * 255 - 120)
    with torch.no_grad():
        y = torch.softmax(model(x), dim=1)
        acts = dict(model.acts)
        y2 = torch.softmax(model(x * 1.01), dim=1)
    with h5py.File(os.path.join(OUT, "googlenet_caffe_w8_64.h5"), "w") as f:
        data = f.create_group("data")
        for name, m in model.convs.items():
            name = name.replace("|", "/")
            g = data.create_group(name)
            g.create_dataset("0", data=m.weight.detach().numpy().astype(np.float32))
            g.create_dataset("1", data=m.bias.detach().numpy().astype(np.float32))
            relu = name.rsplit("/", 1)[0] + "/relu_" + name.rsplit("/", 1)[1]
            data.create_group(relu)
        g = data.create_group("loss3/classifier")
        g.create_dataset("0", data=model.fc.weight.detach().numpy().astype(np.float32))
        g.create_dataset("1", data=model.fc.bias.detach().numpy().astype(np.float32))
    with h5py.File(os.path.join(OUT, "googlenet_caffe_w8_64_io.h5"), "w") as f:
        f.create_dataset("input", data=x.numpy().astype(np.float32))
        f.create_dataset("output", data=y.numpy().astype(np.float32))
        for n in PROBES:
            f.create_dataset(f"activations/{n}", data=acts[n].numpy().astype(np.float32))
    print(f"googlenet_caffe_w8_64: {sum(p.numel() for p in model.parameters())} parameters, output {y[0].numpy()}, "
          f"|d out| for 1% input change {float((y2 - y).abs().max()):.3g}")
    for n in PROBES:
        print(f"  {n}: {tuple(acts[n].shape)} max |a| {float(acts[n].abs().max()):.3g}")


FC_STD = 0.002   # features reach ~200: keeps the softmax away from one-hot

if __name__ == "__main__":
    main()
