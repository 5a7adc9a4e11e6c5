"""A safetensors writer that streams: the header is built from the manifest alone, then each
tensor is generated and written in turn, so a file of any size needs one tensor in memory.

The file is what huggingface/safetensors writes (safetensors/src/tensor.rs, `prepare` and
`Metadata`'s Serialize): an 8-byte little-endian header length, compact JSON with
`__metadata__` first and then the tensors in data order, padded with spaces to a multiple of 8,
then the raw little-endian elements. Tensors are ordered by dtype, widest enum value first
(the Dtype enum order below), then by name.
"""

import json
import struct

from manifest import numel
from values import BYTES

# The declaration order of safetensors' Dtype enum (safetensors/src/tensor.rs), for sorting.
DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
               "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64",
               "F64", "I64", "U64"]


def file_order(items):
    """items: [(name, dtype, ...)] -> sorted as safetensors' `prepare` sorts them."""
    return sorted(items, key=lambda it: (-DTYPE_ORDER.index(it[1]), it[0].encode("utf-8")))


def header_bytes(tensors, metadata=None) -> bytes:
    """tensors: [(name, dtype, shape, nbytes)] already in file order."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, nbytes in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return text + b" " * (-len(text) % 8)


def write(path: str, entries, source, metadata=None, on_tensor=None) -> int:
    """Writes `entries` (manifest entries) with values from `source` (values.Source); returns
    the file size. `on_tensor(entry, dtype, array)` sees every array as written (for checksums)."""
    items = [(e.key, source.kind(e), e) for e in entries]
    items = file_order(items)
    header = header_bytes([(name, kind, e.shape, numel(e.shape) * BYTES[kind]) for name, kind, e in items], metadata)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for _, kind, e in items:
            array = source.array(e)
            if on_tensor is not None:
                on_tensor(e, kind, array)
            f.write(array.tobytes())
        return f.tell()
