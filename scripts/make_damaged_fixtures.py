#!/usr/bin/env python3
"""Damaged HDF5 fixtures that crash libhdf5 itself (Debian 12's 1.10.8), for the contained-read tests.

damaged_global_heap.h5: kerasfile_mnist_cnn.h5 with the size of the first object in its global heap
collection (the `GCOL` block holding the vlen string attributes, `keras_version` first) made
enormous. Reading that attribute in-process dies with SIGSEGV in H5HG_read; through Graft's contained
reader it is one error line. Pure byte patching: no h5py needed.
"""
import os
import struct

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "WeightIOTests", "Fixtures")


def main():
    data = bytearray(open(os.path.join(FIXTURES, "kerasfile_mnist_cnn.h5"), "rb").read())
    heap = data.find(b"GCOL")
    assert heap > 0, "no global heap collection"
    # GCOL header: signature (4), version (1), reserved (3), collection size (8); then object 1:
    # heap index (2), reference count (2), reserved (4), object size (8) at heap + 24.
    size_at = heap + 24
    (size,) = struct.unpack_from("<Q", data, size_at)
    assert 0 < size < 4096, f"unexpected object size {size}"
    struct.pack_into("<Q", data, size_at, size | (0xD0 << 24))
    with open(os.path.join(FIXTURES, "damaged_global_heap.h5"), "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
