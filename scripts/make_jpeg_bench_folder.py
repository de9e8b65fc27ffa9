#!/usr/bin/env python3
"""Make the JPEG folder `graft-bench loader` and scripts/bench_loader_pillow.py time (not committed).

From the photos in ../shared/data/photos: each photo is scaled so its shorter side is 1600 px, then
CROPS random 2048x1536 crops (4:3, about a 3-megapixel phone photo) are cut from it, mirrored at
random, and written as JPEG quality 90 (every fourth one progressive) under
OUT/train/<class>/ and OUT/val/<class>/, the classes being the photos grouped in threes.

    python3 scripts/make_jpeg_bench_folder.py OUT [--crops 40] [--photos ../shared/data/photos]
Needs Pillow.
"""
import argparse
import os
import random
import sys

from PIL import Image


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--photos", default=os.path.join(here, "..", "..", "shared", "data", "photos"))
    ap.add_argument("--crops", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.photos) if n.lower().endswith(".png"))
    if not names:
        sys.exit(f"no PNG photos in {args.photos}")
    rng = random.Random(args.seed)
    count = 0
    for p, name in enumerate(names):
        with Image.open(os.path.join(args.photos, name)) as f:
            photo = f.convert("RGB")
        s = 1600 / min(photo.size)
        photo = photo.resize((round(photo.width * s), round(photo.height * s)), Image.Resampling.BICUBIC)
        # Upscale further where a side is shorter than the crop (portrait and square photos).
        s = max(1.0, 2048 / photo.width, 1536 / photo.height)
        if s > 1:
            photo = photo.resize((round(photo.width * s) + 1, round(photo.height * s) + 1), Image.Resampling.BICUBIC)
        cls = f"group{p // 3}"
        for k in range(args.crops):
            left = rng.randint(0, photo.width - 2048)
            top = rng.randint(0, photo.height - 1536)
            crop = photo.crop((left, top, left + 2048, top + 1536))
            if rng.random() < 0.5:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            split = "val" if k % 5 == 0 else "train"
            folder = os.path.join(args.out, split, cls)
            os.makedirs(folder, exist_ok=True)
            crop.save(os.path.join(folder, f"{os.path.splitext(name)[0]}-{k:03d}.jpg"), quality=90,
                      progressive=(count % 4 == 3))
            count += 1
    print(f"{count} JPEGs (2048x1536) in {args.out}")


if __name__ == "__main__":
    main()
