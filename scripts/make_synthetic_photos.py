#!/usr/bin/env python3
"""Make a large folder of synthetic photo-sized images for memory and throughput tests (not committed).

COUNT images of WIDTHxHEIGHT (default 640x480) in CLASSES class folders (OUT/<class>/NNNNNN.jpg, or
.png with --format png): each is a smooth random colour field (an 8x6 grid of random colours scaled
up bicubically), a class-dependent tint and a little noise, so it compresses like a photo and the
classes are learnable. Deterministic for a seed; two worker processes.

    python3 scripts/make_synthetic_photos.py OUT --count 30000 [--size 640x480] [--classes 3] [--format jpeg]
Needs Pillow and NumPy.
"""
import argparse
import multiprocessing as mp
import os

import numpy as np
from PIL import Image

TINTS = [(60, -20, -30), (-30, 50, -20), (-20, -30, 60), (40, 40, -40), (-40, 30, 30)]


def make(task):
    out, index, classes, width, height, fmt, seed = task
    rng = np.random.default_rng([seed, index])
    cls = index % classes
    grid = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    field += np.array(TINTS[cls % len(TINTS)], dtype=np.float32)
    field += rng.normal(0, 6, size=field.shape).astype(np.float32)
    image = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8))
    folder = os.path.join(out, f"class{cls}")
    path = os.path.join(folder, f"{index:06d}.{'jpg' if fmt == 'jpeg' else 'png'}")
    if fmt == "jpeg":
        image.save(path, quality=90)
    else:
        image.save(path, compress_level=6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--format", choices=["jpeg", "png"], default="jpeg")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    for c in range(args.classes):
        os.makedirs(os.path.join(args.out, f"class{c}"), exist_ok=True)
    tasks = [(args.out, i, args.classes, width, height, args.format, args.seed) for i in range(args.count)]
    with mp.Pool(2) as pool:
        for _ in pool.imap_unordered(make, tasks, chunksize=64):
            pass
    print(f"{args.count} {args.format.upper()} images of {width}x{height} in {args.out}")


if __name__ == "__main__":
    main()
