"""Full (real) and reduced (CI) configs of every component, in each reference's own vocabulary.

The reduced configs keep every key name of the full ones and shrink only the widths; their
values are fixed (the TypeScript side builds matching models), so change them only together.

Where the full values come from:
- VideoCrafter2: AILab-CVC/VideoCrafter configs/inference_t2v_512_v2.0.yaml (the config its
  README pairs with base_512_v2/model.ckpt); the OpenCLIP text sizes from mlfoundations/open_clip
  src/open_clip/model_configs/ViT-H-14.json (text_cfg, embed_dim 1024).
- ModelScope T2V (damo-vilab/text-to-video-ms-1.7b): the UNet is UNet3DConditionModel's defaults
  (huggingface/diffusers scripts/convert_ms_text_to_video_to_diffusers.py converts the original
  weights into `UNet3DConditionModel()` with no arguments); sample_size 32 is the published
  unet/config.json's (not in the code). The VAE is Stable Diffusion's AutoencoderKL (ch 128,
  ch_mult 1,2,4,4, 2 res blocks, z 4: the same ddconfig as VideoCrafter's yaml). The text
  encoder is OpenCLIP ViT-H-14's text tower run to its penultimate layer, so as a CLIPTextModel
  it has 23 of the 24 layers (width 1024, 16 heads, MLP 4096, exact GELU: open_clip builds it
  with nn.GELU); diffusers converts OpenCLIP text towers with stabilityai/stable-diffusion-2's
  text_encoder config (src/diffusers/loaders/single_file_utils.py). The token ids and
  projection_dim of that config are as the stable-diffusion-2 config publishes them; not checked
  against the ModelScope file here.
"""

import copy

# ---------------------------------------------------------------- VideoCrafter2 (LDM vocabulary)

VC2_UNET_FULL = {
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "attention_resolutions": [4, 2, 1],
    "num_res_blocks": 2,
    "channel_mult": [1, 2, 4, 4],
    "num_head_channels": 64,
    "transformer_depth": 1,
    "context_dim": 1024,
    "use_linear": True,
    "use_checkpoint": True,
    "temporal_conv": True,
    "temporal_attention": True,
    "temporal_selfatt_only": True,
    "use_relative_position": False,
    "use_causal_attention": False,
    "temporal_length": 16,
    "addition_attention": True,
    "fps_cond": True,
}

VC2_UNET_REDUCED = {**VC2_UNET_FULL, "model_channels": 64, "num_head_channels": 32, "context_dim": 64}

VC2_VAE_FULL = {
    "embed_dim": 4,
    "ddconfig": {
        "double_z": True,
        "z_channels": 4,
        "resolution": 512,
        "in_channels": 3,
        "out_ch": 3,
        "ch": 128,
        "ch_mult": [1, 2, 4, 4],
        "num_res_blocks": 2,
        "attn_resolutions": [],
        "dropout": 0.0,
    },
}

VC2_VAE_REDUCED = copy.deepcopy(VC2_VAE_FULL)
VC2_VAE_REDUCED["ddconfig"]["ch"] = 32

VC2_TEXT_FULL = {"context_length": 77, "vocab_size": 49408, "width": 1024, "heads": 16, "layers": 24, "embed_dim": 1024}
VC2_TEXT_REDUCED = {**VC2_TEXT_FULL, "width": 64, "heads": 2, "embed_dim": 64}

# LatentDiffusion's params that decide its buffers (the same in both sizes).
VC2_SCHEDULE = {
    "linear_start": 0.00085,
    "linear_end": 0.012,
    "timesteps": 1000,
    "beta_schedule": "linear",
    "scale_by_std": False,
    "scale_factor": 0.18215,
    "use_scale": True,
    "scale_b": 0.7,
}

# ---------------------------------------------------------------- ModelScope T2V (diffusers vocabulary)

MS_UNET_FULL = {
    "_class_name": "UNet3DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 64,
    "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
    "downsample_padding": 1,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 32,
    "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
}

MS_UNET_REDUCED = {**MS_UNET_FULL, "attention_head_dim": 32, "block_out_channels": [64, 128, 256, 256], "cross_attention_dim": 64}

MS_VAE_FULL = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}

MS_VAE_REDUCED = {**MS_VAE_FULL, "block_out_channels": [32, 64, 128, 128]}

MS_TEXT_FULL = {
    "architectures": ["CLIPTextModel"],
    "model_type": "clip_text_model",
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "pad_token_id": 1,
    "hidden_act": "gelu",
    "hidden_size": 1024,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 4096,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 16,
    "num_hidden_layers": 23,
    "projection_dim": 512,
    "vocab_size": 49408,
    # Not a CLIPTextConfig field: whether the file has text_model.embeddings.position_ids
    # (hf_clip_text.py); dropped from the written config.json.
    "legacy_position_ids": True,
}

MS_TEXT_REDUCED = {**MS_TEXT_FULL, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 256, "projection_dim": 64}

# scheduler/scheduler_config.json: the DDPM betas of the ModelScope training run (the same
# 0.00085 .. 0.012 "scaled_linear", i.e. LDM's "linear", as VideoCrafter's).
MS_SCHEDULER = {
    "_class_name": "DDIMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "steps_offset": 1,
}

CONFIGS = {
    "full": {
        "vc2": {"unet": VC2_UNET_FULL, "vae": VC2_VAE_FULL, "text": VC2_TEXT_FULL, "schedule": VC2_SCHEDULE},
        "ms": {"unet": MS_UNET_FULL, "vae": MS_VAE_FULL, "text": MS_TEXT_FULL, "scheduler": MS_SCHEDULER},
    },
    "reduced": {
        "vc2": {"unet": VC2_UNET_REDUCED, "vae": VC2_VAE_REDUCED, "text": VC2_TEXT_REDUCED, "schedule": VC2_SCHEDULE},
        "ms": {"unet": MS_UNET_REDUCED, "vae": MS_VAE_REDUCED, "text": MS_TEXT_REDUCED, "scheduler": MS_SCHEDULER},
    },
}
