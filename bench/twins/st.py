"""safetensors without the `safetensors` package: lazy (memory-mapped) reads, streamed writes.

A checkpoint of several GB is mapped, not read: each tensor is a view of the file's pages
(np.memmap), so the twin's resident memory is the weights it touches, like the real loader's.
Format: 8-byte little-endian header length, JSON header {name: {dtype, shape, data_offsets}},
the raw little-endian data (https://github.com/huggingface/safetensors, README "Format").
"""
import json
import struct
import warnings

import numpy as np
import torch

NUMPY = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}
TORCH = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I64": torch.int64, "I32": torch.int32}
NAMES = {v: k for k, v in TORCH.items()}


class LazyFile:
    """name -> tensor, mapped from the file on first access (read-only views)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        self.metadata = header.pop("__metadata__", {})
        self.base = 8 + n
        self.entries = header
        self.map = np.memmap(path, dtype=np.uint8, mode="r")

    def keys(self):
        return self.entries.keys()

    def shape(self, name):
        return list(self.entries[name]["shape"])

    def __contains__(self, name):
        return name in self.entries

    def __getitem__(self, name):
        e = self.entries[name]
        start, end = e["data_offsets"]
        dtype = NUMPY[e["dtype"]]
        count = (end - start) // np.dtype(dtype).itemsize
        array = np.frombuffer(self.map, dtype=dtype, count=count, offset=self.base + start).reshape(e["shape"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # read-only view: nothing writes to it
            return torch.from_numpy(array)


def read_all(path):
    """Every tensor of a small file, copied into memory."""
    f = LazyFile(path)
    return {k: f[k].clone() for k in f.keys()}


def write_stream(path, entries, produce, metadata=None):
    """entries: [(name, dtype name, shape)]; produce(name) -> tensor, called in order, one at a time."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape in entries:
        n = int(np.prod(shape)) * np.dtype(NUMPY[dtype]).itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header)
    text += " " * ((8 - (len(text.encode()) + 8) % 8) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text.encode())))
        f.write(text.encode())
        for name, dtype, shape in entries:
            t = produce(name).detach().contiguous().cpu()
            if list(t.shape) != list(shape) or NAMES[t.dtype] != dtype:
                raise SystemExit(f"{path}: '{name}' produced as {NAMES.get(t.dtype)} {list(t.shape)}, declared {dtype} {list(shape)}")
            f.write(t.numpy().tobytes())


def write_all(path, tensors):
    write_stream(path, [(k, NAMES[t.dtype], list(t.shape)) for k, t in tensors.items()], lambda k: tensors[k])
