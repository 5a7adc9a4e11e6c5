"""The folders of the CLIP rewards as users download them, with random values:

- pickscore: yuvalkirstain/PickScore_v1, a transformers CLIPModel (config.json + model.safetensors
  or pytorch_model.bin), with the processor's tokenizer files of laion/CLIP-ViT-H-14-laion2B-s32B-b79K
  (tokenizer.json, vocab.json + merges.txt, tokenizer_config.json: our own merges, padded to the
  real 49,408 ids; pad '!' as that tokenizer_config.json names it);
- hps: HPS_v2.1_compressed.pt, torch.save({'state_dict': open_clip ViT-H-14 state dict}) as
  tgxs002/HPSv2 hpsv2/img_score.py loads it, with open_clip's bpe_simple_vocab_16e6.txt.gz;
- aesthetic: openai/clip-vit-large-patch14 (config.json + model.safetensors) and the LAION head
  sac+logos+ava1-l14-linearMSE.pth (a bare state dict: layers.{0,2,4,6,7}).

Key facts: huggingface/transformers src/transformers/models/clip/modeling_clip.py (CLIPVision-
Embeddings: class_embedding, patch_embedding Conv2d without bias, position_embedding;
pre_layrnorm, encoder.layers, post_layernorm; CLIPModel: visual_projection, text_projection
without bias, logit_scale); mlfoundations/open_clip src/open_clip/model.py and transformer.py
(VisionTransformer: conv1 without bias, class_embedding, positional_embedding, ln_pre,
transformer.resblocks, ln_post, proj; the text tower as open_clip_text.py lists it);
christophschuhmann/improved-aesthetic-predictor simple_inference.py (the MLP).
Sizes: full = the published ones; reduced = every name kept, towers 64 wide with 2 layers and 2
heads, images 224 in 14-pixel patches, 49,408 ids and 77 positions (the aesthetic embedding stays
768, the head's input).
"""

import json
import math
import os
import zlib

import numpy as np

from hf_clip_text import clip_text_keys
from manifest import Keys
from open_clip_text import text_keys
from values import Source
import tokenizer_files

MARKER = {"_vplc_synthetic": "random weights in the real layout (tools/checkpoints)"}

# (vision, text, embed) per network and size; transformers CLIPConfig field names.
H14 = {
    "full": ({"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 16}, {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16}, 1024),
    "reduced": ({"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2}, {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2}, 64),
}
L14 = {
    "full": ({"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16}, {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}, 768),
    "reduced": ({"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2}, {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2}, 768),
}
IMAGE, PATCH, VOCAB, CONTEXT = 224, 14, 49408, 77
HEAD = [(0, 768, 1024), (2, 1024, 128), (4, 128, 64), (6, 64, 16), (7, 16, 1)]  # (index, in, out)
HEAD_FILE = "sac+logos+ava1-l14-linearMSE.pth"
HPS_FILE = "HPS_v2.1_compressed.pt"


class FanInSource(Source):
    """values.py's values with weights at std 1/sqrt(fan_in) (torch's init scale) instead of at
    most 0.02: with 0.02 the class token barely sees the image and every score is the same."""

    def array(self, entry):
        values = super().array(entry)
        if entry.role != "weight":
            return values
        fan_in = math.prod(entry.shape[1:]) if len(entry.shape) > 1 else 1
        return values * np.float32((fan_in ** -0.5) / min(0.02, fan_in ** -0.5))


def hf_vision_keys(vis):
    w, inter, n = vis["hidden_size"], vis["intermediate_size"], (IMAGE // PATCH) ** 2 + 1
    k = Keys().scope("vision_model")
    emb = k.scope("embeddings")
    emb.add("class_embedding", (w,), "embedding")  # the module's own parameter: before its children
    emb.conv("patch_embedding", 3, w, (PATCH, PATCH), bias=False)
    emb.add("position_embedding.weight", (n, w), "embedding")
    k.norm("pre_layrnorm", w)
    for i in range(vis["num_hidden_layers"]):
        layer = k.scope(f"encoder.layers.{i}")
        for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
            layer.linear(f"self_attn.{name}", w, w)
        layer.norm("layer_norm1", w)
        layer.linear("mlp.fc1", w, inter)
        layer.linear("mlp.fc2", inter, w)
        layer.norm("layer_norm2", w)
    k.norm("post_layernorm", w)
    return k.entries


def hf_text_cfg(text):
    return {**text, "vocab_size": VOCAB, "max_position_embeddings": CONTEXT}


def clip_model_keys(sizes, with_text=True):
    """CLIPModel's state dict order: text_model, vision_model, visual_projection, text_projection, logit_scale."""
    vis, text, embed = sizes
    entries = (clip_text_keys(hf_text_cfg(text)) if with_text else []) + hf_vision_keys(vis)
    top = Keys(entries=entries)
    top.linear("visual_projection", vis["hidden_size"], embed, bias=False)
    if with_text:
        top.linear("text_projection", text["hidden_size"], embed, bias=False)
        top.add("logit_scale", (), "scalar")
    return entries


def clip_config(sizes, act):
    vis, text, embed = sizes
    vision = {**vis, "hidden_act": act, "layer_norm_eps": 1e-05, "num_channels": 3, "image_size": IMAGE, "patch_size": PATCH, "projection_dim": embed, "model_type": "clip_vision_model"}
    textc = {**hf_text_cfg(text), "hidden_act": act, "layer_norm_eps": 1e-05, "model_type": "clip_text_model", "eos_token_id": 49407}
    return {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": embed, "logit_scale_init_value": 2.6592, "text_config": textc, "vision_config": vision, **MARKER}


def open_clip_visual_keys(vis, embed):
    w, n = vis["hidden_size"], (IMAGE // PATCH) ** 2 + 1
    k = Keys().scope("visual")
    # VisionTransformer's own parameters in assignment order, then its children
    k.add("class_embedding", (w,), "embedding")
    k.add("positional_embedding", (n, w), "embedding")
    k.add("proj", (w, embed), "projection")
    k.conv("conv1", 3, w, (PATCH, PATCH), bias=False)
    k.norm("ln_pre", w)
    for i in range(vis["num_hidden_layers"]):
        b = k.scope(f"transformer.resblocks.{i}")
        b.norm("ln_1", w)
        b.add("attn.in_proj_weight", (3 * w, w), "weight")
        b.add("attn.in_proj_bias", (3 * w,), "bias")
        b.linear("attn.out_proj", w, w)
        b.norm("ln_2", w)
        b.linear("mlp.c_fc", w, vis["intermediate_size"])
        b.linear("mlp.c_proj", vis["intermediate_size"], w)
    k.norm("ln_post", w)
    return k.entries


def hps_keys(size):
    vis, text, embed = H14[size]
    cfg = {"width": text["hidden_size"], "layers": text["num_hidden_layers"], "context_length": CONTEXT, "vocab_size": VOCAB, "embed_dim": embed, "mlp_ratio": text["intermediate_size"] / text["hidden_size"]}
    return open_clip_visual_keys(vis, embed) + text_keys(cfg)


def keys(reward, size):
    """The manifest of a reward's weight files: {file name: entries}."""
    if reward == "pickscore":
        return {"model.safetensors": clip_model_keys(H14[size])}
    if reward == "hps":
        return {HPS_FILE: hps_keys(size)}
    if reward == "aesthetic":
        return {"model.safetensors": clip_model_keys(L14[size])}
    raise ValueError(f"not a CLIP reward: {reward}")


def head_state_dict(seed):
    """nn.Linear-like values (uniform in +-1/sqrt(fan_in)), so the score depends on the image."""
    import torch
    from collections import OrderedDict

    sd = OrderedDict()
    for index, n_in, n_out in HEAD:
        for name, shape in (("weight", (n_out, n_in)), ("bias", (n_out,))):
            key = f"layers.{index}.{name}"
            rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
            bound = 1 / math.sqrt(n_in)
            sd[key] = torch.from_numpy(rng.uniform(-bound, bound, size=shape).astype(np.float32))
    return sd


def _json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write(reward, size, out_dir, seed=0, fmt="safetensors", rename=None):
    """Writes the reward's folder; returns the paths written. `fmt`: safetensors or bin (torch.save)
    for the transformers files; `rename`: (old, new) writes one key under another name (a broken
    file, for tests)."""
    import safetensors_writer

    os.makedirs(out_dir, exist_ok=True)
    source = FanInSource(seed, "F32")
    written = []
    (name, entries), = keys(reward, size).items()
    if rename:
        old, new = rename
        if not any(e.key == old for e in entries):
            raise ValueError(f"rename: no key {old!r}")
        entries = [e._replace(key=new) if e.key == old else e for e in entries]
    if reward in ("pickscore", "aesthetic"):
        _json(os.path.join(out_dir, "config.json"), clip_config((H14 if reward == "pickscore" else L14)[size], "gelu" if reward == "pickscore" else "quick_gelu"))
        written.append(os.path.join(out_dir, "config.json"))
        if fmt == "safetensors":
            path = os.path.join(out_dir, "model.safetensors")
            safetensors_writer.write(path, entries, source, {"format": "pt"})
        else:
            import torch
            import torch_ckpt

            path = os.path.join(out_dir, "pytorch_model.bin")
            torch.save(torch_ckpt.state_dict(entries, source), path)
        written.append(path)
    else:
        import torch
        import torch_ckpt

        path = os.path.join(out_dir, name)
        torch.save({"state_dict": torch_ckpt.state_dict(entries, source)}, path)
        written.append(path)
    if reward == "aesthetic":
        import torch

        path = os.path.join(out_dir, HEAD_FILE)
        torch.save(head_state_dict(seed), path)
        written.append(path)
    merges = tokenizer_files.padded_merges(VOCAB)
    if reward == "pickscore":
        written += tokenizer_files.write_hf(out_dir, merges, pad="!", fast=True)
    if reward == "hps":
        written.append(tokenizer_files.write_open_clip(out_dir, merges))
    return written
