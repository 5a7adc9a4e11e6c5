"""The actpred reward's folder: a transformers VideoMAEForVideoClassification as
MCG-NJU/videomae-base-finetuned-kinetics is published (config.json with id2label, and
model.safetensors or pytorch_model.bin), with seeded random values.

Keys from huggingface/transformers src/transformers/models/videomae/modeling_videomae.py, in
state_dict() order: videomae.embeddings.patch_embeddings.projection (Conv3d 3 -> hidden, kernel
[tubelet, patch, patch]); per layer attention.attention.{q_bias, v_bias} (the module's own
parameters, so before its children), query/key/value.weight (Linear without bias),
attention.output.dense, intermediate.dense, output.dense, layernorm_before, layernorm_after;
then fc_norm and classifier. No buffers: the sine-cosine position table is a plain attribute,
and with use_mean_pooling there is no videomae.layernorm.

config.json: VideoMAEConfig's fields (configuration_videomae.py) with 400 classes. The class
names are our own: a few dozen plausible action names, then `action_<i>` (not the Kinetics list).

Values: numpy.random.default_rng([seed, crc32(key)]) per tensor; Linear/Conv weights normal with
std 1/sqrt(fan_in) (so the logits, and the cross-entropy, move with the input), biases 0.02,
LayerNorm scales 1 + 0.05 normal.

  /usr/bin/python3 tools/checkpoints/actpred_files.py --size reduced --out DIR [--seed 0] [--format safetensors|bin]
"""

import argparse
import json
import math
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from manifest import Keys, numel  # noqa: E402
import safetensors_writer  # noqa: E402

# VideoMAEConfig's defaults are videomae-base's; the reduced one keeps the geometry and classes.
CONFIGS = {
    "full": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "reduced": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256},
}
GEOMETRY = {"image_size": 224, "patch_size": 16, "num_channels": 3, "num_frames": 16, "tubelet_size": 2}
CLASSES = 400

# Our own action names for the first ids (the rest are action_<i>): tests name these in prompts.
ACTIONS = [
    "playing guitar", "playing piano", "playing violin", "playing cello", "playing drums",
    "riding a bike", "riding scooter", "riding horse", "dancing ballet", "dancing salsa",
    "eating watermelon", "eating doughnuts", "drinking beer", "drinking coffee", "flipping pancake",
    "chopping wood", "jogging", "swimming", "surfing water", "skiing", "ice skating", "rock climbing",
    "juggling balls", "walking the dog", "washing dishes", "baking cookies", "reading book",
    "writing", "painting fence", "tying shoe laces", "brushing teeth", "blowing out candles",
    "kicking soccer ball", "shooting basketball", "serving tennis", "playing badminton",
    "passing football (in game)", "massaging person's head", "playing", "diving",
]


def config(size: str) -> dict:
    return {**GEOMETRY, **CONFIGS[size]}


def id2label():
    return {str(i): (ACTIONS[i] if i < len(ACTIONS) else f"action_{i}") for i in range(CLASSES)}


def keys(size: str):
    """The manifest: every state-dict key, shape and role, in state_dict() order."""
    c = config(size)
    h, inter, t, p = c["hidden_size"], c["intermediate_size"], c["tubelet_size"], c["patch_size"]
    k = Keys()
    k.scope("videomae.embeddings.patch_embeddings").conv("projection", c["num_channels"], h, (t, p, p))
    for i in range(c["num_hidden_layers"]):
        layer = k.scope(f"videomae.encoder.layer.{i}")
        attn = layer.scope("attention.attention")
        attn.add("q_bias", (h,), "bias")
        attn.add("v_bias", (h,), "bias")
        for name in ("query", "key", "value"):
            attn.linear(name, h, h, bias=False)
        layer.linear("attention.output.dense", h, h)
        layer.linear("intermediate.dense", h, inter)
        layer.linear("output.dense", inter, h)
        layer.norm("layernorm_before", h)
        layer.norm("layernorm_after", h)
    k.norm("fc_norm", c["hidden_size"])
    k.linear("classifier", h, CLASSES)
    return k.entries


class Values:
    """values.Source's interface (kind, array) with this reward's magnitudes, all float32."""

    def __init__(self, seed: int):
        self.seed = seed

    def kind(self, entry) -> str:
        return "F32"

    def array(self, entry) -> np.ndarray:
        rng = np.random.default_rng([self.seed, zlib.crc32(entry.key.encode("utf-8"))])
        normal = rng.standard_normal(numel(entry.shape), dtype=np.float32).reshape(entry.shape)
        if entry.role == "weight":
            return (normal / np.float32(math.sqrt(numel(entry.shape[1:])))).astype("<f4")
        if entry.role == "norm":
            return (np.float32(1) + normal * np.float32(0.05)).astype("<f4")
        if entry.role == "bias":
            return (normal * np.float32(0.02)).astype("<f4")
        raise ValueError(f"actpred_files: no rule for role {entry.role!r} ({entry.key})")


def config_json(size: str) -> dict:
    c = config(size)
    labels = id2label()
    return {
        "_name_or_path": "MCG-NJU/videomae-base-finetuned-kinetics",
        "architectures": ["VideoMAEForVideoClassification"],
        "attention_probs_dropout_prob": 0.0,
        "decoder_hidden_size": 384,
        "decoder_intermediate_size": 1536,
        "decoder_num_attention_heads": 6,
        "decoder_num_hidden_layers": 4,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": c["hidden_size"],
        "id2label": labels,
        "image_size": c["image_size"],
        "initializer_range": 0.02,
        "intermediate_size": c["intermediate_size"],
        "label2id": {v: int(k) for k, v in labels.items()},
        "layer_norm_eps": 1e-12,
        "model_type": "videomae",
        "norm_pix_loss": True,
        "num_attention_heads": c["num_attention_heads"],
        "num_channels": c["num_channels"],
        "num_frames": c["num_frames"],
        "num_hidden_layers": c["num_hidden_layers"],
        "patch_size": c["patch_size"],
        "problem_type": "single_label_classification",
        "qkv_bias": True,
        "torch_dtype": "float32",
        "transformers_version": "4.22.0.dev0",
        "tubelet_size": c["tubelet_size"],
        "use_mean_pooling": True,
    }


def write(size: str, out_dir: str, seed: int = 0, fmt: str = "safetensors") -> list:
    """Writes config.json and the weights (model.safetensors, or pytorch_model.bin with torch); returns the paths."""
    if size not in CONFIGS:
        raise ValueError(f"size must be one of {sorted(CONFIGS)}, got {size!r}")
    os.makedirs(out_dir, exist_ok=True)
    entries, values = keys(size), Values(seed)
    config_path = os.path.join(out_dir, "config.json")
    with open(config_path, "w") as f:
        json.dump(config_json(size), f, indent=2)
    if fmt == "safetensors":
        weights = os.path.join(out_dir, "model.safetensors")
        safetensors_writer.write(weights, entries, values, metadata={"format": "pt"})
    elif fmt == "bin":
        import torch_ckpt  # torch only here

        import torch

        weights = os.path.join(out_dir, "pytorch_model.bin")
        torch.save(torch_ckpt.state_dict(entries, values), weights)
    else:
        raise ValueError(f"format must be safetensors or bin, got {fmt!r}")
    return [config_path, weights]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(CONFIGS), default="reduced")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=["safetensors", "bin"], default="safetensors")
    ap.add_argument("--manifest", action="store_true", help="print the keys as JSON lines instead of writing")
    args = ap.parse_args()
    if args.manifest:
        for e in keys(args.size):
            print(json.dumps({"key": e.key, "shape": list(e.shape)}))
        return
    if not args.out:
        ap.error("--out is required")
    for path in write(args.size, args.out, args.seed, args.format):
        print(path)


if __name__ == "__main__":
    main()
