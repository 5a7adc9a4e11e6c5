"""OpenCLIP's text tower as VideoCrafter2 conditions on it, over checkpoint keys
(cond_stage_model.model.*).

Written from AILab-CVC/VideoCrafter lvdm/modules/encoders/condition.py
(FrozenOpenCLIPEmbedder.encode_with_transformer with layer 'penultimate': token_embedding +
positional_embedding, every resblock but the last with the causal attn_mask, then ln_final)
and mlfoundations/open_clip src/open_clip/transformer.py (ResidualAttentionBlock: pre-LN,
torch.nn.MultiheadAttention with packed in_proj, MLP c_fc -> GELU -> c_proj; no layer scale
for ViT-H-14) and build_attention_mask (-inf above the diagonal). The attention itself is
torch's F.multi_head_attention_forward, what nn.MultiheadAttention runs. text_projection and
logit_scale are in the checkpoint but not on the path to the cross-attention context: they
are documented extras (attn_mask is a non-persistent buffer, never in the file).
"""
import math

import torch
import torch.nn.functional as F

from layers import Spec, layer_norm, linear

IGNORED = ()  # the file may hold no text key the twin does not declare


def unread(cfg):
    """Declared (the checkpoint has them) but off the path to the context: the pooled/contrastive
    head, and with layer 'penultimate' the last resblock."""
    out = ["text_projection", "logit_scale"]
    if cfg["layer"] == "penultimate":
        out.append(f"transformer.resblocks.{cfg['layers'] - 1}.")
    return out


def spec(cfg, prefix):
    s, w = Spec(prefix), cfg["width"]
    s.add("positional_embedding", [cfg["context_length"], w], ("normal", 0.01))
    s.add("text_projection", [w, cfg["embed_dim"]], ("normal", w ** -0.5))
    s.add("logit_scale", [], ("const", math.log(1 / 0.07)))
    s.add("token_embedding.weight", [cfg["vocab_size"], w], ("normal", 0.02))
    for i in range(cfg["layers"]):
        p = f"transformer.resblocks.{i}"
        s.norm(f"{p}.ln_1", w)
        s.add(f"{p}.attn.in_proj_weight", [3 * w, w], ("fan_in", w))
        s.add(f"{p}.attn.in_proj_bias", [3 * w], ("fan_in", w))
        s.linear(f"{p}.attn.out_proj", w, w)
        s.norm(f"{p}.ln_2", w)
        mlp = int(w * cfg["mlp_ratio"])
        s.linear(f"{p}.mlp.c_fc", w, mlp)
        s.linear(f"{p}.mlp.c_proj", mlp, w)
    s.norm("ln_final", w)
    return s


def encode(W, cfg, tokens):
    """tokens [B, 77] int64 -> the per-token context [B, 77, width]."""
    if cfg["layer"] not in ("last", "penultimate"):
        raise NotImplementedError(cfg["layer"])
    layer_idx = 1 if cfg["layer"] == "penultimate" else 0
    n = cfg["context_length"]
    mask = torch.empty(n, n).fill_(float("-inf")).triu_(1)
    x = F.embedding(tokens, W("token_embedding.weight")) + W("positional_embedding")
    x = x.permute(1, 0, 2)  # NLD -> LND, as nn.MultiheadAttention (batch_first=False) wants
    for i in range(cfg["layers"] - layer_idx):
        p = f"transformer.resblocks.{i}"
        h = layer_norm(W, f"{p}.ln_1", x)
        a, _ = F.multi_head_attention_forward(
            h, h, h, cfg["width"], cfg["heads"], W(f"{p}.attn.in_proj_weight"), W(f"{p}.attn.in_proj_bias"),
            None, None, False, 0.0, W(f"{p}.attn.out_proj.weight"), W(f"{p}.attn.out_proj.bias"),
            training=False, need_weights=False, attn_mask=mask,
        )
        x = x + a
        x = x + linear(W, f"{p}.mlp.c_proj", F.gelu(linear(W, f"{p}.mlp.c_fc", layer_norm(W, f"{p}.ln_2", x))))
    return layer_norm(W, "ln_final", x.permute(1, 0, 2))
