"""The record a key manifest is made of, and the helpers every manifest builds it with.

A manifest lists what a real checkpoint holds: each state-dict key, its shape, and its role
(which decides the synthetic values, values.py). Keys come out in the order PyTorch's
`Module.state_dict()` walks the reference module: a module's own parameters, then its own
persistent buffers, then its children in the order they were assigned in `__init__`.
Pure Python: nothing here needs torch.
"""

from typing import List, NamedTuple, Sequence, Tuple


class Entry(NamedTuple):
    key: str
    shape: Tuple[int, ...]
    # weight (conv/linear: fan-in = prod(shape[1:])), bias, norm (a norm layer's scale),
    # embedding, projection (a bare projection matrix), scalar, schedule (a buffer with
    # computed values), index (an int64 buffer: arange)
    role: str


class Keys:
    """Collects entries under a dotted prefix; `scope` shares the list with a longer prefix."""

    def __init__(self, prefix: str = "", entries: List[Entry] = None):
        self.prefix = prefix
        self.entries = [] if entries is None else entries

    def scope(self, name) -> "Keys":
        return Keys(f"{self.prefix}{name}.", self.entries)

    def add(self, name: str, shape: Sequence[int], role: str) -> None:
        self.entries.append(Entry(f"{self.prefix}{name}", tuple(int(d) for d in shape), role))

    def linear(self, name, fan_in: int, fan_out: int, bias: bool = True) -> None:
        """torch.nn.Linear: weight [out, in], bias [out]."""
        self.add(f"{name}.weight", (fan_out, fan_in), "weight")
        if bias:
            self.add(f"{name}.bias", (fan_out,), "bias")

    def conv(self, name, c_in: int, c_out: int, kernel: Sequence[int], bias: bool = True) -> None:
        """torch.nn.Conv1d/2d/3d: weight [out, in, *kernel], bias [out]."""
        self.add(f"{name}.weight", (c_out, c_in, *kernel), "weight")
        if bias:
            self.add(f"{name}.bias", (c_out,), "bias")

    def norm(self, name, channels: int) -> None:
        """GroupNorm / LayerNorm with affine parameters: weight and bias [channels]."""
        self.add(f"{name}.weight", (channels,), "norm")
        self.add(f"{name}.bias", (channels,), "bias")


def prefixed(entries: Sequence[Entry], prefix: str) -> List[Entry]:
    return [Entry(prefix + e.key, e.shape, e.role) for e in entries]


def numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
