#!/usr/bin/env python3
"""Black-box mutation fuzzing of the `finetune` CLI on damaged weight and image files.

Seeds: the small HDF5 fixtures in Tests/WeightIOTests/Fixtures plus a native model made with
`finetune export`, and PNG/JPEG images made with Pillow. Mutants are byte-level (flips, interesting
values, truncation, splices) and, for HDF5, semantic through h5py (huge or overflowing dimensions,
wrong rank and dtype, NaN/Inf, link cycles, external and dangling links, attribute abuse, nesting).
Each mutant runs once (`inspect` / `predict --model` for HDF5, `predict` for images) under a
timeout and a memory limit, and is classified:

  ok        exit 0, or exit 1 with exactly one stderr line `error: ...` naming the file
  crash     killed by a signal (SIGSEGV, SIGABRT, SIGTRAP from a Swift trap, ...)
  hang      still running at the timeout
  oom       over the address-space limit (an allocation failure or a StoragePool fatal error)
  message   any other exit, or an error that is not one line naming the file

Usage: scripts/fuzz_cli.py --finetune .build/release/finetune --kind hdf5 --count 2000 --out /tmp/fuzz
Needs h5py, numpy and Pillow (e.g. /work/venv/bin/python). Failing inputs are kept under --out.
"""
import argparse
import collections
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "WeightIOTests", "Fixtures")
HDF5_SEEDS = ["keras2_theano.h5", "caffe_batchnorm.h5", "formats_misc.h5", "kerasfile_mnist_cnn.h5",
              "kerasfile_functional.h5", "lenet5_tfkeras.h5", "lenet5_keras3.weights.h5", "lenet5_caffe.h5",
              "lenet5_keras1.h5", "lenet5_split_names.h5", "lenet5_tfkeras_full.h5", "keras2_missing_dataset.h5"]
INTERESTING = [b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff\xff\xff\xff\xff", b"\x00\x00\x00\x80\x00\x00\x00\x00",
               b"\xff\xff\xff\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\xc0\x7f", b"\x01", b"\x80", b"\x10\x00\x00\x00"]


# ---------- seeds ----------

def make_seeds(finetune, work):
    seeds = {"hdf5": [], "png": [], "jpeg": []}
    for name in HDF5_SEEDS:
        p = os.path.join(FIXTURES, name)
        if os.path.exists(p):
            seeds["hdf5"].append(p)
    native = os.path.join(work, "seed_native.h5")
    r = subprocess.run([finetune, "export", "--base", "lenet5", "--weights", os.path.join(FIXTURES, "lenet5_tfkeras.h5"),
                        "--classes", "10", "--out", native], capture_output=True, text=True)
    if r.returncode == 0:
        seeds["hdf5"].append(native)
    rng = np.random.default_rng(0)
    for i, (w, h, mode) in enumerate([(32, 32, "RGB"), (28, 28, "L"), (40, 24, "RGBA"), (17, 33, "P")]):
        img = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).convert(mode)
        p = os.path.join(work, f"seed{i}.png")
        img.save(p)
        seeds["png"].append(p)
        j = os.path.join(work, f"seed{i}.jpg")
        img.convert("RGB").save(j, quality=80, progressive=(i % 2 == 1))
        seeds["jpeg"].append(j)
    return seeds


# ---------- mutators ----------

def byte_mutant(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if not b:
            break
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            v = rng.choice(INTERESTING)
            b[i:i + len(v)] = v
        elif op == 2:
            b = b[:rng.randrange(len(b))]
        elif op == 3:
            j = rng.randrange(len(b))
            n = rng.randint(1, 64)
            b[i:i + n] = b[j:j + n]
        elif op == 4:
            b[i] = rng.randrange(256)
        else:   # patch a little-endian integer that looks like a small size or dimension
            for _ in range(40 if len(b) >= 8 else 0):
                k = rng.randrange(len(b) - 7)
                v = struct.unpack_from("<Q", b, k)[0]
                if 1 <= v <= 4096:
                    struct.pack_into("<Q", b, k, rng.choice([0, 1 << 31, 1 << 40, 1 << 62, (1 << 64) - 1, v * 1000]))
                    break
    return bytes(b)


def datasets_of(f):
    found = []
    f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
    return found


def groups_of(f):
    found = ["/"]
    f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Group) else None)
    return found


def semantic_mutant(seed, out, rng):
    shutil.copyfile(seed, out)
    with h5py.File(out, "r+") as f:
        ds, gs = datasets_of(f), groups_of(f)
        op = rng.randrange(11)
        if op == 0 and ds:      # wrong rank / shape
            n = rng.choice(ds); d = f[n][()]
            del f[n]
            f.create_dataset(n, data=np.asarray(d).reshape(-1)[: max(1, rng.randrange(max(1, np.asarray(d).size)))])
        elif op == 1 and ds:    # wrong dtype
            n = rng.choice(ds); d = np.asarray(f[n][()])
            del f[n]
            dt = rng.choice([np.int64, np.int8, np.uint16, np.float16, np.float64, np.bool_, "S4"])
            f.create_dataset(n, data=d.astype(dt) if dt != "S4" else np.array([b"abcd"] * max(1, d.size)))
        elif op == 2 and ds:    # NaN / Inf
            n = rng.choice(ds); d = np.asarray(f[n][()], dtype=np.float32)
            if d.size:
                d.reshape(-1)[rng.randrange(d.size)] = rng.choice([np.nan, np.inf, -np.inf])
            del f[n]
            f.create_dataset(n, data=d)
        elif op == 3 and len(gs) > 1:   # hard-link cycle
            g = rng.choice(gs[1:])
            f[g].create_group("layers") if "layers" not in f[g] else None
            target = rng.choice(gs)
            name = g + "/layers/loop" + str(rng.randrange(100))
            try:
                f[name] = f[target]
            except Exception:
                pass
        elif op == 4 and ds:    # external / dangling / soft links in place of a dataset
            n = rng.choice(ds)
            del f[n]
            f[n] = rng.choice([h5py.ExternalLink("/etc/passwd", "/x"), h5py.ExternalLink(out, "/"),
                               h5py.SoftLink("/nowhere"), h5py.SoftLink("/" + n)])
        elif op == 5:           # attribute abuse
            g = f[rng.choice(gs)]
            key = rng.choice(["layer_names", "weight_names", "model_config", "graft_format", "zoo_options",
                              "input_shape", "order", "keras_version", "backend", "name", "class_names"])
            val = rng.choice([np.array([b"x" * 70000]), "{" * 5000, json.dumps({"inputChannels": 2 ** 31}),
                              json.dumps({"classCount": 0}), np.arange(10, dtype=np.int64), "",
                              np.array([b"a", b"a", b"a"]), "\xff\xfe", json.dumps([2 ** 62, 1, 1]), np.zeros(0)])
            try:
                g.attrs[key] = val
            except Exception:
                pass
        elif op == 6 and ds:    # huge declared dataset (chunked, unwritten)
            n = rng.choice(ds)
            del f[n]
            f.create_dataset(n, shape=rng.choice([(1 << 20, 1 << 20), (1 << 31,), (3, 3, 1 << 25, 64)]), dtype="f4",
                             chunks=True, compression=rng.choice([None, "gzip"]))
        elif op == 7:           # deep nesting
            g = f[rng.choice(gs)]
            path = "/".join(["layers", "functional"] * rng.randint(10, 60))
            try:
                g.create_group(path)
            except Exception:
                pass
        elif op == 8 and ds:    # zero-size and scalar datasets
            n = rng.choice(ds)
            del f[n]
            f.create_dataset(n, data=rng.choice([np.zeros((0, 3), np.float32), np.float32(1.5), np.zeros((1,) * 20, np.float32)]))
        elif op == 9 and "zoo_options" in f.attrs:   # native options
            o = json.loads(f.attrs["zoo_options"])
            k = rng.choice(["inputChannels", "classCount", "inputSize", "hiddenWidth", "widthMultiplier", "depthMultiplier"])
            o[k] = rng.choice([0, -1, 2 ** 31, 2 ** 62, 1e308, 3])
            f.attrs["zoo_options"] = json.dumps(o)
        elif gs:                # delete a random object
            victim = rng.choice(ds + gs[1:]) if len(ds + gs[1:]) else None
            if victim and victim in f:
                del f[victim]
    data = open(out, "rb").read()
    if rng.random() < 0.3:
        data = byte_mutant(data, rng)
    open(out, "wb").write(data)


def image_mutant(seed, rng):
    data = open(seed, "rb").read()
    if seed.endswith(".png") and rng.random() < 0.3:
        # Semantic: a header declaring an enormous image (CRC kept valid so libpng reads on).
        import zlib
        w, h = rng.choice([(1 << 30, 1 << 30), (100000, 100000), (1, 1 << 24), (0, 5)])
        ihdr = struct.pack(">II", w, h) + data[24:29]
        chunk = b"IHDR" + ihdr
        return data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xffffffff) + data[33:]
    return byte_mutant(data, rng)


# ---------- running ----------

def limit_memory(limit):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()
    return apply


def classify(cmd, path, timeout, memory):
    start = time.time()
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit_memory(memory))
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return "hang", f"over {timeout} s"
    err = err.decode("utf-8", "replace")
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("warning: ")]
    if p.returncode < 0:
        if "cannot map" in err or "out of memory" in err.lower() or "std::bad_alloc" in err:
            return "oom", err[-300:]
        return "crash", f"signal {-p.returncode}: " + err[-300:]
    if "cannot map" in err or "bad_alloc" in err:
        return "oom", err[-300:]
    if p.returncode == 0:
        return "ok", ""
    if p.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and path in lines[0]:
        return "ok", ""
    return "message", f"rc {p.returncode}: " + err[-400:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--finetune", default=os.path.join(ROOT, ".build", "release", "finetune"))
    ap.add_argument("--kind", choices=["hdf5", "png", "jpeg"], default="hdf5")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--memory", type=int, default=4 << 30, help="address-space limit per run (bytes)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=tempfile.mkdtemp(prefix="graft-fuzz-"))
    a = ap.parse_args()
    finetune = os.path.abspath(a.finetune)
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="seeds-", dir=a.out)
    seeds = make_seeds(finetune, work)
    image = seeds["png"][0]
    counts = collections.Counter()
    examples = collections.defaultdict(list)

    def one(i):
        try:
            return run_one(i)
        except Exception as e:   # a mutator that h5py refuses, say: not a verdict on Graft
            return "skipped", "", repr(e)[:200], ""

    def run_one(i):
        rng = random.Random(a.seed * 1_000_003 + i)
        suffix = {"hdf5": ".h5", "png": ".png", "jpeg": ".jpg"}[a.kind]
        path = os.path.join(a.out, f"m{a.kind}{i}{suffix}")
        if a.kind == "hdf5":
            seed = rng.choice(seeds["hdf5"])
            if rng.random() < 0.5:
                try:
                    semantic_mutant(seed, path, rng)
                except Exception:
                    open(path, "wb").write(byte_mutant(open(seed, "rb").read(), rng))
            else:
                open(path, "wb").write(byte_mutant(open(seed, "rb").read(), rng))
            cmd = [finetune, "inspect", path] if i % 2 == 0 else [finetune, "predict", "--model", path, image]
        else:
            open(path, "wb").write(image_mutant(rng.choice(seeds[a.kind]), rng))
            cmd = [finetune, "predict", "--base", "lenet5", "--weights", os.path.join(FIXTURES, "lenet5_tfkeras.h5"),
                   "--classes", "10", path]
        verdict, detail = classify(cmd, path, a.timeout, a.memory)
        if verdict == "ok":
            os.unlink(path)
        return verdict, path, detail, cmd[1]

    started = time.time()
    with ThreadPoolExecutor(a.jobs) as pool:
        for verdict, path, detail, sub in pool.map(one, range(a.count)):
            counts[verdict] += 1
            if verdict != "ok" and len(examples[verdict]) < 10:
                examples[verdict].append({"file": path, "command": sub, "detail": detail})
    summary = {"kind": a.kind, "runs": a.count, "seconds": round(time.time() - started, 1), "counts": dict(counts),
               "examples": examples}
    print(json.dumps(summary, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if counts["ok"] + counts["skipped"] == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
