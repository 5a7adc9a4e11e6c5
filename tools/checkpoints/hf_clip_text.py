"""Hugging Face CLIPTextModel: the keys of text_encoder/model.safetensors in a diffusers folder.

Facts from huggingface/transformers src/transformers/models/clip/modeling_clip.py:
CLIPTextEmbeddings (token_embedding, position_embedding, and the `position_ids` buffer),
CLIPEncoderLayer (self_attn with k_proj, v_proj, q_proj, out_proj, all biased; layer_norm1;
mlp.fc1, mlp.fc2; layer_norm2), CLIPTextTransformer (embeddings, encoder.layers,
final_layer_norm), all under `text_model.`. CLIPTextModel has no projection (that is
CLIPTextModelWithProjection). The config is text_encoder/config.json's (CLIPTextConfig names).

`position_ids` ([1, max_position_embeddings], int64 arange) is saved by transformers before 4.31
(it became non-persistent then: huggingface/transformers#24505); a folder saved in 2023, like
ModelScope's, has it. `legacy_position_ids` in the config decides.
"""

from manifest import Keys


def clip_text_keys(cfg, prefix: str = ""):
    h, inter = cfg["hidden_size"], cfg["intermediate_size"]
    k = Keys(prefix).scope("text_model")
    emb = k.scope("embeddings")
    if cfg.get("legacy_position_ids", False):
        emb.add("position_ids", (1, cfg["max_position_embeddings"]), "index")  # own buffer: before children
    emb.add("token_embedding.weight", (cfg["vocab_size"], h), "embedding")
    emb.add("position_embedding.weight", (cfg["max_position_embeddings"], h), "embedding")
    for i in range(cfg["num_hidden_layers"]):
        layer = k.scope(f"encoder.layers.{i}")
        for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
            layer.linear(f"self_attn.{name}", h, h)
        layer.norm("layer_norm1", h)
        layer.linear("mlp.fc1", h, inter)
        layer.linear("mlp.fc2", inter, h)
        layer.norm("layer_norm2", h)
    k.norm("final_layer_norm", h)
    return k.entries
