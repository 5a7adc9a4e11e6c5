#!/usr/bin/python3
"""ViCLIP's folder as T2V-Turbo's users have it: ViClip-InternVid-10M-FLT.pth and the tokenizer's
bpe_simple_vocab_16e6.txt.gz (our own vocabulary, tokenizer_files.py, never OpenAI's).

Facts from Ji4chenLi/t2v-turbo viclip/ (the same code as OpenGVLab/InternVideo Data/InternVid/viclip/):
- viclip.py ViCLIP.__init__: torch.load(pretrain)['model'] then a strict load_state_dict, so the
  file is {'model': state dict} and the state dict is exactly the module's: its own parameter
  `temp` (a 0-d tensor), then vision_encoder.* and text_encoder.*. (Which other top-level entries
  the published file holds besides 'model' was not checked; none are read.)
- viclip_vision.py VisionTransformer (clip_joint_l14: 224, patch 14, width 1024, 24 layers,
  16 heads, output 768, kernel_size 1, 8 frames): own parameters class_embedding [W],
  positional_embedding [grid^2 + 1, W], temporal_positional_embedding [1, frames, W], proj [W, E];
  then conv1 (Conv3d [W, 3, 1, p, p], no bias), ln_pre, transformer.resblocks.{i}, ln_post.
  DropPath and Dropout hold nothing.
- ResidualAttentionBlock (both towers): attn (nn.MultiheadAttention: in_proj_weight [3W, W],
  in_proj_bias, out_proj), ln_1, mlp.c_fc [4W, W], mlp.c_proj [W, 4W], ln_2.
- viclip_text.py CLIP_TEXT (clip_text_l14 at context_length 32: width 768, 12 layers, 12 heads,
  embed 768, vocab 49408): own positional_embedding [32, W], text_projection [W, E]; then
  transformer.resblocks.{i}, token_embedding, ln_final. The causal mask is a plain attribute.

Values: seeded per key (numpy default_rng([seed, crc32(key)])), weights normal(0, 1/sqrt(fan_in))
so that outputs vary with the input, biases normal(0, 0.01), norm scales 1 + normal(0, 0.02), the
vision embeddings and projections normal(0, width^-0.5) (the temporal one too: a trained one is
not the reference's zero init), token embedding 0.02, text positions 0.01, temp 0.01.

    /usr/bin/python3 tools/checkpoints/viclip_files.py --size reduced --out DIR [--seed N]
"""

import argparse
import math
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from manifest import Entry, Keys, numel  # noqa: E402
from tokenizer_files import padded_merges, write_open_clip  # noqa: E402

WEIGHTS_FILE = "ViClip-InternVid-10M-FLT.pth"
# The top-level dict entry the state dict sits under.
STATE_KEY = "model"

# full: ViCLIP-L/14; reduced: the same keys at 64 wide, 2 layers, 2 heads (stdlib/models/viclip/config.ts)
SIZES = {
    "full": {"vision_width": 1024, "vision_layers": 24, "text_width": 768, "text_layers": 12, "embed_dim": 768},
    "reduced": {"vision_width": 64, "vision_layers": 2, "text_width": 64, "text_layers": 2, "embed_dim": 64},
}
COMMON = {"image_size": 224, "patch_size": 14, "frames": 8, "context_length": 32, "vocab_size": 49408}


def config(size: str) -> dict:
    if size not in SIZES:
        raise SystemExit(f"viclip_files: size must be one of {', '.join(SIZES)}, got {size!r}")
    return {**COMMON, **SIZES[size]}


def _block(k: Keys, w: int) -> None:
    """ResidualAttentionBlock in module order: attn (own in_proj, then out_proj), ln_1, mlp, ln_2."""
    k.add("attn.in_proj_weight", (3 * w, w), "weight")
    k.add("attn.in_proj_bias", (3 * w,), "bias")
    k.linear("attn.out_proj", w, w)
    k.norm("ln_1", w)
    k.linear("mlp.c_fc", w, 4 * w)
    k.linear("mlp.c_proj", 4 * w, w)
    k.norm("ln_2", w)


def keys(size: str):
    """The state dict under 'model', in state_dict() order (names without the 'model.' of the file)."""
    c = config(size)
    k = Keys()
    k.add("temp", (), "temp")
    v, w = k.scope("vision_encoder"), c["vision_width"]
    grid = c["image_size"] // c["patch_size"]
    v.add("class_embedding", (w,), "vision_embedding")
    v.add("positional_embedding", (grid * grid + 1, w), "vision_embedding")
    v.add("temporal_positional_embedding", (1, c["frames"], w), "vision_embedding")
    v.add("proj", (w, c["embed_dim"]), "projection")
    v.conv("conv1", 3, w, (1, c["patch_size"], c["patch_size"]), bias=False)
    v.norm("ln_pre", w)
    for i in range(c["vision_layers"]):
        _block(v.scope(f"transformer.resblocks.{i}"), w)
    v.norm("ln_post", w)
    t, w = k.scope("text_encoder"), c["text_width"]
    t.add("positional_embedding", (c["context_length"], w), "text_position")
    t.add("text_projection", (w, c["embed_dim"]), "projection")
    for i in range(c["text_layers"]):
        _block(t.scope(f"transformer.resblocks.{i}"), w)
    t.add("token_embedding.weight", (c["vocab_size"], w), "token_embedding")
    t.norm("ln_final", w)
    return k.entries


def values(entry: Entry, seed: int) -> np.ndarray:
    """float32 values of one entry (its own generator: independent of order)."""
    shape = entry.shape
    if entry.role == "temp":
        return np.full(shape, 0.01, dtype=np.float32)
    rng = np.random.default_rng([seed, zlib.crc32(entry.key.encode("utf-8"))])
    normal = rng.standard_normal(numel(shape), dtype=np.float32).reshape(shape)
    if entry.role == "norm":
        return np.float32(1) + normal * np.float32(0.02)
    std = {
        "weight": lambda: 1 / math.sqrt(numel(shape[1:])),
        "bias": lambda: 0.01,
        "vision_embedding": lambda: shape[-1] ** -0.5,
        "projection": lambda: shape[0] ** -0.5,
        "text_position": lambda: 0.01,
        "token_embedding": lambda: 0.02,
    }[entry.role]()
    return normal * np.float32(std)


class _Values:
    """What torch_ckpt.state_dict asks of a value source."""

    def __init__(self, seed: int):
        self.seed = seed

    def kind(self, entry: Entry) -> str:
        return "F32"

    def array(self, entry: Entry) -> np.ndarray:
        return values(entry, self.seed)


def write(size: str, out_dir: str, seed: int = 0) -> list:
    """Writes the folder; returns the paths written."""
    import torch_ckpt  # torch is needed only to write

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, WEIGHTS_FILE)
    sd = torch_ckpt.state_dict(keys(size), _Values(seed))
    torch_ckpt.save(path, {STATE_KEY: sd})
    return [path, write_open_clip(out_dir, padded_merges())]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=sorted(SIZES), default="reduced")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for path in write(args.size, args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
