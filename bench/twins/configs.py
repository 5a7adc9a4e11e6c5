"""Hyperparameters of the three networks, in the reference's own names.

full: AILab-CVC/VideoCrafter configs/inference_t2v_512_v2.0.yaml (unet_config.params,
first_stage_config.params.ddconfig, cond_stage_config: FrozenOpenCLIPEmbedder layer
'penultimate'), with the defaults of the constructors it does not set
(lvdm/modules/networks/openaimodel3d.py UNetModel.__init__) and OpenCLIP ViT-H-14's text_cfg
(mlfoundations/open_clip src/open_clip/model_configs/ViT-H-14.json).
reduced: the same architecture, narrow (the parity bench's CPU-sized run).
These are written out here, not read from vplc, so that a wrong value on vplc's side shows.
"""
import copy

UNET_FULL = {
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "attention_resolutions": [4, 2, 1],
    "num_res_blocks": 2,
    "channel_mult": [1, 2, 4, 4],
    "num_heads": -1,
    "num_head_channels": 64,
    "transformer_depth": 1,
    "context_dim": 1024,
    "use_linear": True,
    "temporal_conv": True,
    "temporal_attention": True,
    "temporal_selfatt_only": True,
    "use_relative_position": False,
    "use_causal_attention": False,
    "temporal_length": 16,
    "addition_attention": True,
    "fps_cond": True,
    # constructor defaults the yaml leaves alone
    "temporal_transformer_depth": 1,
    "conv_resample": True,
    "use_scale_shift_norm": False,
    "resblock_updown": False,
    "tempspatial_aware": False,
    "use_image_attention": False,
}

VAE_FULL = {
    "embed_dim": 4,
    "double_z": True,
    "z_channels": 4,
    "resolution": 512,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    # Decoder defaults
    "give_pre_end": False,
    "tanh_out": False,
    "attn_type": "vanilla",
}

TEXT_FULL = {
    "embed_dim": 1024,
    "context_length": 77,
    "vocab_size": 49408,
    "width": 1024,
    "heads": 16,
    "layers": 24,
    "mlp_ratio": 4.0,
    "layer": "penultimate",
}

PREFIX = {"unet": "model.diffusion_model.", "vae": "first_stage_model.", "text": "cond_stage_model.model."}


def configs(size):
    unet, vae, text = copy.deepcopy(UNET_FULL), copy.deepcopy(VAE_FULL), copy.deepcopy(TEXT_FULL)
    if size == "reduced":
        unet.update(model_channels=64, num_head_channels=32, context_dim=64)
        vae.update(ch=32)
        text.update(width=64, heads=2, embed_dim=64)
    elif size != "full":
        raise SystemExit(f"unknown size '{size}' (reduced or full)")
    return {"unet": unet, "vae": vae, "text": text}
