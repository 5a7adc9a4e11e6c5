"""What the three twins share: the weights (by checkpoint key, every read recorded), the
parameter list each network declares (key, shape, how the synthetic checkpoint fills it), and
the torch layers written as functions of the weights."""
import math

import torch
import torch.nn.functional as F


class Spec:
    """The parameters a network's constructor creates, in order: key -> (shape, init)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.entries = {}

    def add(self, key, shape, init):
        full = self.prefix + key
        if full in self.entries:
            raise AssertionError(f"twin bug: {full} declared twice")
        self.entries[full] = (list(shape), init)

    # torch module shapes (weight [out, in, k...], bias [out])
    def linear(self, key, n_in, n_out, bias=True):
        self.add(f"{key}.weight", [n_out, n_in], ("fan_in", n_in))
        if bias:
            self.add(f"{key}.bias", [n_out], ("fan_in", n_in))

    def conv(self, key, n_in, n_out, kernel):
        kernel = list(kernel)
        fan_in = n_in * math.prod(kernel)
        self.add(f"{key}.weight", [n_out, n_in, *kernel], ("fan_in", fan_in))
        self.add(f"{key}.bias", [n_out], ("fan_in", fan_in))

    def norm(self, key, channels):
        self.add(f"{key}.weight", [channels], ("around", 1.0))
        self.add(f"{key}.bias", [channels], ("around", 0.0))


class Weights:
    """Checkpoint tensors by key; reads are recorded so the twin can prove it used them all."""

    def __init__(self, tensors, prefix=""):
        self.tensors = tensors
        self.prefix = prefix
        self.used = set()

    def __call__(self, key):
        full = self.prefix + key
        self.used.add(full)
        return self.tensors[full].float()

    def at(self, prefix):
        view = Weights(self.tensors, self.prefix + prefix)
        view.used = self.used
        return view


def check_names(spec, tensors, ignored=()):
    """Every key the twin declares is in the file with its shape, and the file has no other key
    under the network's prefix except the documented `ignored` prefixes. Returns the problems."""
    problems = []
    for key, (shape, _) in spec.entries.items():
        if key not in tensors:
            problems.append(f"missing: the file lacks {key} {shape}")
        elif tensors.shape(key) != shape:
            problems.append(f"shape: {key} is {tensors.shape(key)} in the file, the twin wants {shape}")
    for key in tensors.keys():
        if key.startswith(spec.prefix) and key not in spec.entries and not any(key.startswith(p) for p in ignored):
            problems.append(f"unexpected: the file has {key} {tensors.shape(key)}, which the twin never reads")
    return problems


# ------------------------------------------------------------------ layers (torch semantics)

def linear(W, p, x, bias=True):
    return F.linear(x, W(f"{p}.weight"), W(f"{p}.bias") if bias else None)


def conv(W, p, x, stride=1, padding=0):
    weight = W(f"{p}.weight")
    op = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[weight.dim()]
    return op(x, weight, W(f"{p}.bias"), stride=stride, padding=padding)


def group_norm(W, p, x, groups=32, eps=1e-5):
    return F.group_norm(x, groups, W(f"{p}.weight"), W(f"{p}.bias"), eps)


def layer_norm(W, p, x, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), W(f"{p}.weight"), W(f"{p}.bias"), eps)
