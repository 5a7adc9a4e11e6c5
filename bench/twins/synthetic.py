"""A synthetic VideoCrafter2 checkpoint: the real keys and shapes (as the twins declare them),
seeded random values, one safetensors file. The parity bench's own generator, used while
tools/checkpoints/synthetic.py is not there.

Values: weights and biases U(+-1/sqrt(fan_in)) (torch's Linear/Conv default range), norm
scales 1 +- 0.1 and shifts +-0.1, embeddings N(0, std) as OpenCLIP initialises them; layers
the reference zero-initialises (proj_out, out_layers.3, temopral_conv.conv4, out.2) are random
too, or their branches would be invisible to the comparison. Every tensor is drawn from its own
generator seeded by (seed, key), so a file is reproducible and tensors are written one at a time.
"""
import zlib

import torch

import openclip_text
import unet3d
import vae
from configs import PREFIX, configs
from st import write_stream


def specs(size):
    c = configs(size)
    return [unet3d.spec(c["unet"], PREFIX["unet"]), vae.spec(c["vae"], PREFIX["vae"]), openclip_text.spec(c["text"], PREFIX["text"])]


def value(key, shape, init, seed):
    g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    kind, arg = init
    if kind == "fan_in":
        bound = 1.0 / arg ** 0.5
        return (torch.rand(shape, generator=g) * 2 - 1) * bound
    if kind == "around":
        return arg + (torch.rand(shape, generator=g) * 2 - 1) * 0.1
    if kind == "normal":
        return torch.randn(shape, generator=g) * arg
    if kind == "const":
        return torch.full(shape, float(arg))
    raise AssertionError(kind)


def write(size, path, seed=0):
    entries, inits = [], {}
    for s in specs(size):
        for key, (shape, init) in s.entries.items():
            entries.append((key, "F32", shape))
            inits[key] = (shape, init)
    write_stream(path, entries, lambda k: value(k, inits[k][0], inits[k][1], seed), {"layout": "videocrafter2", "size": size, "generator": "bench/twins/synthetic.py"})
    return len(entries)
