#!/usr/bin/env python3
"""Pillow + NumPy peer of `graft-bench loader` (issue #5 item 5).

Workload (identical on the Graft side; keep the two in step):
  dataset   every *.png, *.jpg and *.jpeg under DATA/train/<class>/ and DATA/val/<class>/ (hymenoptera:
            397 PNGs, shorter side <= 144 px; scripts/make_jpeg_bench_folder.py makes a JPEG set), sorted by path.
  epoch     shuffled order (seeded per epoch), batches of 32 (last batch partial: 397 = 12 x 32 + 13).
  sample    1. read + decode the PNG from disk every epoch (no cache), convert to RGB
            2. RandomResizedCrop parameters as torchvision (scale 0.08-1, ratio 3/4-4/3 log-uniform,
               10 tries then a centre crop), crop + resize to 224x224 bilinear with Pillow's
               antialias when shrinking: Image.resize((224, 224), BILINEAR, box=crop)
            3. horizontal flip with probability 0.5
            4. brightness factor U[0.8, 1.2] then contrast factor U[0.8, 1.2] (blend with the mean
               gray level), clamped to 0..255 after each
            5. normalise torch-style: (v / 255 - mean) / std, mean (0.485, 0.456, 0.406),
               std (0.229, 0.224, 0.225), written into a float32 NCHW batch [32, 3, 224, 224]
  timing    1 warm-up epoch, then `--epochs` (3) timed epochs; images/s = timed images / seconds.
            Also images per CPU-second (process_time of the main process plus, for the pool, of
            the worker processes inside their tasks - slightly favouring Python): a figure that
            load from other processes on the machine disturbs much less than wall-clock rates.
            Worker processes (and the shared-memory batch slots) are created before the warm-up
            epoch, as with torch DataLoader(persistent_workers=True).

Configurations (all are run; the best is the peer Graft is compared with):
  single   one process does everything (DataLoader num_workers=0)
  pool     `--workers` (2) worker processes each build whole batches (dataset __getitem__ + collate
           in the worker, as DataLoader(num_workers=2)) into shared-memory batch slots, at most
           2 x workers batches in flight (DataLoader prefetch_factor=2); the main process only
           receives the finished batches (no copy, like torch's shared-memory tensors)
  and, for each, step 4 done two ways:
  pil      ImageEnhance.Brightness / ImageEnhance.Contrast on the 8-bit image (what torchvision's
           ColorJitter does for PIL images), then NumPy normalisation
  numpy    brightness/contrast in float32 NumPy, fused with the normalisation

Output: one human-readable line per configuration and, with --json, one line
`RESULT {json}` per configuration (`graft-bench loader` parses those).
Needs Pillow and NumPy; exits with status 3 and a note when either is missing.
"""
import argparse
import json
import math
import os
import random
import sys
import time

# One BLAS thread: the only BLAS call is a tiny gray-level matmul, and OpenBLAS's spinning helper
# threads would only burn the second core (measured: slower and ~1.6x the CPU time). Override by
# setting the variables yourself.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    import numpy as np
    from PIL import Image, ImageEnhance
except ImportError as error:  # graft-bench prints the note and Graft's numbers only
    print(f"NOTE: Pillow/NumPy not available ({error}); skipping the Python peer", flush=True)
    sys.exit(3)

SIZE = 224
BATCH = 32
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SCALE = (1.0 / (255.0 * STD)).astype(np.float32)      # v * SCALE + OFFSET == (v / 255 - mean) / std
OFFSET = (-MEAN / STD).astype(np.float32)
GRAY = np.array([0.299, 0.587, 0.114], dtype=np.float32)
DRAFT = 0        # > 0: JPEGs decode with Image.draft("RGB", (DRAFT, DRAFT)) (the "-draft" configs)


def list_files(root):
    files = []
    for split in ("train", "val"):
        base = os.path.join(root, split)
        for cls in sorted(os.listdir(base)):
            folder = os.path.join(base, cls)
            if cls.startswith(".") or not os.path.isdir(folder):
                continue
            for dirpath, dirnames, names in os.walk(folder):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                files += [os.path.join(dirpath, n) for n in sorted(names)
                          if n.lower().endswith((".png", ".jpg", ".jpeg")) and not n.startswith(".")]
    return sorted(files)


def rrc_box(width, height, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision RandomResizedCrop.get_params, as a Pillow box (left, top, right, bottom)."""
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = rng.randint(0, height - h)
            left = rng.randint(0, width - w)
            return (left, top, left + w, top + h)
    in_ratio = width / height
    w, h = width, height
    if in_ratio < ratio[0]:
        h = int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        w = int(round(h * ratio[1]))
    left, top = (width - w) // 2, (height - h) // 2
    return (left, top, left + w, top + h)


def load_sample(path, seed, epoch, index, jitter, out):
    """Decode + augment + normalise one image into out ([3, 224, 224] float32 view)."""
    rng = random.Random((seed * 1_000_003 + epoch) * 1_000_003 + int(index))
    with Image.open(path) as f:
        if DRAFT and f.format == "JPEG":
            # Graft's loader reduces JPEGs in the DCT domain while both sides stay >= 2 x 224.
            f.draft("RGB", (DRAFT, DRAFT))
        img = f.convert("RGB")                      # decodes the file
    img = img.resize((SIZE, SIZE), Image.Resampling.BILINEAR, box=rrc_box(img.width, img.height, rng))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    b = rng.uniform(0.8, 1.2)
    c = rng.uniform(0.8, 1.2)
    if jitter == "pil":
        img = ImageEnhance.Brightness(img).enhance(b)
        img = ImageEnhance.Contrast(img).enhance(c)
        a = np.asarray(img, dtype=np.float32)           # HWC
    else:
        a = np.asarray(img, dtype=np.float32)
        a *= b
        np.clip(a, 0, 255, out=a)
        mean = float((a @ GRAY).mean())
        a *= c
        a += mean * (1 - c)
        np.clip(a, 0, 255, out=a)
    # normalise + HWC -> CHW in one pass per channel
    np.multiply(a.transpose(2, 0, 1), SCALE[:, None, None], out=out)
    out += OFFSET[:, None, None]


def build_batch(files, order, seed, epoch, jitter, out):
    for slot, index in enumerate(order):
        load_sample(files[index], seed, epoch, index, jitter, out[slot])


def epoch_order(n, seed, epoch):
    return np.random.default_rng([seed, epoch]).permutation(n)


def batches_of(order):
    return [order[i:i + BATCH] for i in range(0, len(order), BATCH)]


# ---- single process ------------------------------------------------------------------------------

def run_single(files, epochs, seed, jitter):
    batch = np.empty((BATCH, 3, SIZE, SIZE), dtype=np.float32)
    images = 0
    start = cpu = None
    for epoch in range(epochs + 1):                   # epoch 0 = warm-up
        if epoch == 1:
            start, cpu = time.perf_counter(), time.process_time()
        for idx in batches_of(epoch_order(len(files), seed, epoch)):
            build_batch(files, idx, seed, epoch, jitter, batch[:len(idx)])
            if epoch > 0:
                images += len(idx)
    return images, time.perf_counter() - start, time.process_time() - cpu


# ---- worker pool with shared-memory batch slots ------------------------------------------------

_W = {}


def _init_worker(files, shm_name, slots, seed, jitter):
    from multiprocessing import shared_memory
    shm = shared_memory.SharedMemory(name=shm_name)
    _W.update(files=files, shm=shm, seed=seed, jitter=jitter,
              slots=np.ndarray((slots, BATCH, 3, SIZE, SIZE), dtype=np.float32, buffer=shm.buf))


def _work(task):
    slot, epoch, idx = task
    cpu = time.process_time()
    build_batch(_W["files"], idx, _W["seed"], epoch, _W["jitter"], _W["slots"][slot][:len(idx)])
    return slot, len(idx), time.process_time() - cpu


def run_pool(files, epochs, seed, jitter, workers):
    import multiprocessing as mp
    from multiprocessing import shared_memory
    slots = 2 * workers                               # prefetch_factor = 2 per worker
    nbytes = slots * BATCH * 3 * SIZE * SIZE * 4
    shm = shared_memory.SharedMemory(create=True, size=nbytes)
    try:
        view = np.ndarray((slots, BATCH, 3, SIZE, SIZE), dtype=np.float32, buffer=shm.buf)
        ctx = mp.get_context("fork")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(files, shm.name, slots, seed, jitter)) as pool:
            images = 0
            start = cpu = None
            worker_cpu = 0.0
            for epoch in range(epochs + 1):
                if epoch == 1:
                    start, cpu = time.perf_counter(), time.process_time()
                tasks = batches_of(epoch_order(len(files), seed, epoch))
                pending = []                          # in-order results, at most `slots` in flight
                submitted = 0
                for b in range(len(tasks)):
                    while submitted < len(tasks) and submitted < b + slots:
                        pending.append(pool.apply_async(_work, ((submitted % slots, epoch, tasks[submitted]),)))
                        submitted += 1
                    slot, n, task_cpu = pending[b].get()
                    batch = view[slot][:n]            # the consumer's batch (no copy)
                    assert batch.shape[0] == n
                    if epoch > 0:
                        images += n
                        worker_cpu += task_cpu
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu + worker_cpu
        del view
        return images, seconds, cpu
    finally:
        shm.close()
        shm.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "hymenoptera"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", default="single-pil,single-numpy,pool-pil,pool-numpy",
                    help="comma-separated subset of single-pil,single-numpy,pool-pil,pool-numpy; "
                         "a -draft suffix (single-pil-draft) decodes JPEGs with Pillow's draft()")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N files (profiling)")
    ap.add_argument("--json", action="store_true", help="also print RESULT {json} lines")
    args = ap.parse_args()

    files = list_files(args.data)
    if args.limit > 0:
        files = files[:args.limit]
    if not files:
        print(f"no PNG or JPEG files under {args.data}/train|val", file=sys.stderr)
        sys.exit(2)
    import PIL
    global DRAFT
    for config in args.configs.split(","):
        mode, jitter, *extra = config.split("-")
        DRAFT = 2 * SIZE if "draft" in extra else 0
        if mode == "single":
            images, seconds, cpu = run_single(files, args.epochs, args.seed, jitter)
            label = f"single process, jitter={jitter}" + (", draft" if DRAFT else "")
        else:
            images, seconds, cpu = run_pool(files, args.epochs, args.seed, jitter, args.workers)
            label = f"{args.workers} worker processes, jitter={jitter}" + (", draft" if DRAFT else "")
        rate = images / seconds
        print(f"pillow {config:19s} {images} images in {seconds:.3f} s: {rate:8.1f} images/s, "
              f"{images / cpu:8.1f} images/CPU-s  ({label})", flush=True)
        if args.json:
            print("RESULT " + json.dumps({"config": config, "images": images, "seconds": seconds,
                                          "images_per_s": rate, "cpu_seconds": cpu,
                                          "images_per_cpu_s": images / cpu, "pillow": PIL.__version__,
                                          "numpy": np.__version__, "python": sys.version.split()[0]}), flush=True)


if __name__ == "__main__":
    main()
