"""Seeded synthetic values for manifest entries, and the element types they are stored as.

Each tensor is drawn from its own generator, seeded by (seed, crc32(key)), so a tensor's values
depend only on the seed and its key: writers can generate and write one tensor at a time, in any
order, and two layouts agree wherever they share a key. The magnitudes keep a forward pass of a
full-size random network finite (GroupNorm/LayerNorm renormalise every block; residual branches
add little).
"""

import math
import zlib

import numpy as np

from ldm_schedule import schedule_buffers
from manifest import Entry, numel

FLOAT_DTYPES = ("F32", "F16", "BF16")
CLI_DTYPES = {"fp32": "F32", "fp16": "F16", "bf16": "BF16"}
BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}

# role -> how the values are drawn (see manifest.Entry for the roles)
WEIGHT_STD = 0.02
BIAS_STD = 0.01
NORM_STD = 0.02
EMBEDDING_STD = 0.02
LOGIT_SCALE = math.log(1 / 0.07)  # open_clip's init_logit_scale


def stored_dtype(entry: Entry, dtype: str) -> str:
    """The element type of `entry` when floats are written as `dtype` (F32/F16/BF16).
    Schedule buffers stay float32 (ddpm3d registers them so); index buffers are int64."""
    if entry.role == "index":
        return "I64"
    if entry.role == "schedule":
        return "F32"
    return dtype


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def float_values(entry: Entry, seed: int, schedules) -> np.ndarray:
    """float32 values of a floating entry, shaped as the entry."""
    shape = entry.shape
    if entry.role == "schedule":
        name = entry.key.rsplit(".", 1)[-1]
        return np.asarray(schedules[name], dtype=np.float32).reshape(shape)
    if entry.role == "scalar":
        return np.full(shape, LOGIT_SCALE, dtype=np.float32)
    normal = _rng(seed, entry.key).standard_normal(numel(shape), dtype=np.float32).reshape(shape)
    if entry.role == "weight":
        fan_in = numel(shape[1:]) if len(shape) > 1 else 1
        return normal * np.float32(min(WEIGHT_STD, 1 / math.sqrt(fan_in)))
    if entry.role == "projection":
        return normal * np.float32(shape[0] ** -0.5)
    if entry.role == "norm":
        return np.float32(1) + normal * np.float32(NORM_STD)
    if entry.role == "bias":
        return normal * np.float32(BIAS_STD)
    if entry.role == "embedding":
        return normal * np.float32(EMBEDDING_STD)
    raise ValueError(f"values: no rule for role {entry.role!r} ({entry.key})")


def to_bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), rounding to nearest even as torch does (no NaNs here)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounding = np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    # reshape: ascontiguousarray makes a 0-d array 1-d
    return ((bits + rounding) >> np.uint32(16)).astype(np.uint16).reshape(np.shape(values))


def bf16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def stored_array(entry: Entry, dtype: str, seed: int, schedules) -> np.ndarray:
    """The entry's elements as stored (little-endian): float32, float16, uint16 (bf16 bits) or int64."""
    kind = stored_dtype(entry, dtype)
    if kind == "I64":
        n = entry.shape[-1] if entry.shape else 1
        return np.broadcast_to(np.arange(n, dtype="<i8"), entry.shape).copy()
    values = float_values(entry, seed, schedules)
    if kind == "F32":
        return values.astype("<f4")
    if kind == "F16":
        return values.astype("<f2")
    return to_bf16_bits(values).astype("<u2")


def as_float64(array: np.ndarray, kind: str) -> np.ndarray:
    """What a reader decodes from the stored elements, widened for checksums."""
    if kind == "BF16":
        return bf16_bits_to_float32(array).astype(np.float64)
    return array.astype(np.float64)


class Source:
    """Values for one layout: the schedules are computed once, tensors on request."""

    def __init__(self, seed: int, dtype: str, schedule_cfg=None):
        self.seed = seed
        self.dtype = dtype
        self.schedules = dict(schedule_buffers(schedule_cfg)) if schedule_cfg is not None else {}

    def kind(self, entry: Entry) -> str:
        return stored_dtype(entry, self.dtype)

    def array(self, entry: Entry) -> np.ndarray:
        return stored_array(entry, self.dtype, self.seed, self.schedules)
