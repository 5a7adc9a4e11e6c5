"""The OpenCLIP text tower VideoCrafter2 conditions on: the keys of `cond_stage_model.model.*`.

Facts: AILab-CVC/VideoCrafter lvdm/modules/encoders/condition.py (FrozenOpenCLIPEmbedder builds
open_clip's ViT-H-14 and deletes `model.visual`, so no visual key is saved); the text tower as
mlfoundations/open_clip v2.22.0 (the version VideoCrafter's requirements.txt pins) builds it:
src/open_clip/model.py (CLIP takes transformer, token_embedding, positional_embedding, ln_final,
text_projection from the text tower; `attn_mask` is a non-persistent buffer; logit_scale is a
scalar parameter; logit_bias only when init_logit_bias is set) and src/open_clip/transformer.py
(ResidualAttentionBlock: ln_1, nn.MultiheadAttention with packed in_proj, ln_2, mlp.c_fc and
mlp.c_proj; LayerScale only with ls_init_value). Sizes: src/open_clip/model_configs/ViT-H-14.json.
"""

from manifest import Keys


def text_keys(cfg, prefix: str = ""):
    """cfg: open_clip's `text_cfg` names plus `embed_dim` (the projection's output width)."""
    if cfg.get("ls_init_value") is not None:
        raise ValueError("open_clip text manifest: LayerScale (ls_init_value) is not covered; ViT-H-14 has none")
    w, n, ctx = cfg["width"], cfg["layers"], cfg["context_length"]
    mlp = int(w * cfg.get("mlp_ratio", 4.0))
    k = Keys(prefix)
    # CLIP's own parameters, in assignment order, come before its submodules.
    k.add("positional_embedding", (ctx, w), "embedding")
    k.add("text_projection", (w, cfg["embed_dim"]), "projection")
    k.add("logit_scale", (), "scalar")
    for i in range(n):
        b = k.scope(f"transformer.resblocks.{i}")
        b.norm("ln_1", w)
        b.add("attn.in_proj_weight", (3 * w, w), "weight")  # q, k, v stacked along dim 0
        b.add("attn.in_proj_bias", (3 * w,), "bias")
        b.linear("attn.out_proj", w, w)
        b.norm("ln_2", w)
        b.linear("mlp.c_fc", w, mlp)
        b.linear("mlp.c_proj", mlp, w)
    k.add("token_embedding.weight", (cfg["vocab_size"], w), "embedding")
    k.norm("ln_final", w)
    return k.entries
