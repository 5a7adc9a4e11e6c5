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
import importlib.util
import os

# The hyperparameters themselves are tools/checkpoints/configs.py's (written from the reference
# configs, not read from vplc, so a wrong value on vplc's side shows); the twin adds the
# constructor defaults its forward reads and flattens the VAE's ddconfig.
_SPEC = importlib.util.spec_from_file_location(
    "checkpoint_configs", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "checkpoints", "configs.py")
)
_CHECKPOINT_CONFIGS = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_CHECKPOINT_CONFIGS)
CONFIGS = _CHECKPOINT_CONFIGS.CONFIGS

# lvdm/modules/networks/openaimodel3d.py UNetModel.__init__ defaults the yaml leaves alone
UNET_DEFAULTS = {
    "num_heads": -1,
    "temporal_transformer_depth": 1,
    "conv_resample": True,
    "use_scale_shift_norm": False,
    "resblock_updown": False,
    "tempspatial_aware": False,
    "use_image_attention": False,
}

# lvdm/modules/networks/ae_modules.py Decoder defaults
VAE_DEFAULTS = {"give_pre_end": False, "tanh_out": False, "attn_type": "vanilla"}

# OpenCLIP ViT-H-14's text_cfg beyond the sizes, and FrozenOpenCLIPEmbedder's layer
TEXT_DEFAULTS = {"mlp_ratio": 4.0, "layer": "penultimate"}

PREFIX = {"unet": "model.diffusion_model.", "vae": "first_stage_model.", "text": "cond_stage_model.model."}


def configs(size):
    if size not in CONFIGS:
        raise SystemExit(f"unknown size '{size}' (reduced or full)")
    vc2 = copy.deepcopy(CONFIGS[size]["vc2"])
    unet = {**UNET_DEFAULTS, **vc2["unet"]}
    vae = {"embed_dim": vc2["vae"]["embed_dim"], **vc2["vae"]["ddconfig"], **VAE_DEFAULTS}
    text = {**vc2["text"], **TEXT_DEFAULTS}
    return {"unet": unet, "vae": vae, "text": text}
