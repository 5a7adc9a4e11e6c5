"""The three layouts: which components go in which file, under which prefix, with which
config files beside them.

- videocrafter2-ckpt: one PyTorch Lightning checkpoint (base_512_v2/model.ckpt), the whole
  LatentDiffusion state dict: its schedule buffers, then model.diffusion_model.* (UNet),
  first_stage_model.* (VAE), cond_stage_model.model.* (OpenCLIP text tower). That is the module
  order of lvdm/models/ddpm3d.py (DDPM registers the buffers and `model`, LatentDiffusion then
  instantiates the first and the cond stage), and VideoCrafter's scripts/evaluation/funcs.py
  loads the file with strict=True, so the key set is exactly the module's.
- videocrafter2-safetensors: the same state dict as one .safetensors file.
- modelscope-diffusers: a diffusers pipeline folder (TextToVideoSDPipeline's components, from
  huggingface/diffusers src/diffusers/pipelines/deprecated/text_to_video_synthesis/).
"""

from typing import List, NamedTuple

from configs import CONFIGS
from diffusers_unet3d import unet3d_keys
from diffusers_vae import vae_keys
from hf_clip_text import clip_text_keys
from ldm_autoencoder import autoencoder_keys
from ldm_schedule import schedule_keys
from lvdm_unet import unet_keys
from open_clip_text import text_keys

LAYOUTS = ("videocrafter2-ckpt", "videocrafter2-safetensors", "modelscope-diffusers")


class Component(NamedTuple):
    name: str
    entries: list


class WeightsFile(NamedTuple):
    path: str  # relative to the layout's root (the folder, or "" for a single file)
    components: List[Component]
    metadata: dict  # safetensors __metadata__, or None


def vc2_components(size: str) -> List[Component]:
    cfg = CONFIGS[size]["vc2"]
    return [
        Component("schedule", schedule_keys(cfg["schedule"])),
        Component("unet", unet_keys(cfg["unet"], "model.diffusion_model.")),
        Component("vae", autoencoder_keys(cfg["vae"], "first_stage_model.")),
        Component("text", text_keys(cfg["text"], "cond_stage_model.model.")),
    ]


def ms_files(size: str) -> List[WeightsFile]:
    cfg = CONFIGS[size]["ms"]
    pt = {"format": "pt"}  # what diffusers' and transformers' save_pretrained pass to safetensors
    return [
        WeightsFile("unet/diffusion_pytorch_model.safetensors", [Component("unet", unet3d_keys(cfg["unet"]))], pt),
        WeightsFile("vae/diffusion_pytorch_model.safetensors", [Component("vae", vae_keys(cfg["vae"]))], pt),
        WeightsFile("text_encoder/model.safetensors", [Component("text", clip_text_keys(cfg["text"]))], pt),
    ]


def weights_files(layout: str, size: str) -> List[WeightsFile]:
    if layout == "modelscope-diffusers":
        return ms_files(size)
    if layout in ("videocrafter2-ckpt", "videocrafter2-safetensors"):
        return [WeightsFile("", vc2_components(size), None)]
    raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")


def _public(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k != "legacy_position_ids"}


def ms_config_files(size: str, torch_dtype: str) -> dict:
    """relative path -> JSON object, for the folder's config files (tokenizer/ is separate)."""
    cfg = CONFIGS[size]["ms"]
    marker = {"_vplc_synthetic": "random weights in the real layout (tools/checkpoints)"}
    return {
        "model_index.json": {
            "_class_name": "TextToVideoSDPipeline",
            **marker,
            "scheduler": ["diffusers", cfg["scheduler"]["_class_name"]],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet3DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        },
        "unet/config.json": {**cfg["unet"], **marker},
        "vae/config.json": {**cfg["vae"], **marker},
        "text_encoder/config.json": {**_public(cfg["text"]), "torch_dtype": torch_dtype, **marker},
        "scheduler/scheduler_config.json": {**cfg["scheduler"], **marker},
    }


def vc2_hyper_parameters(size: str) -> dict:
    """A plain-data hyper_parameters entry for the Lightning checkpoint (what save_hyperparameters
    would record of the LatentDiffusion's params): nested dicts, lists, floats, bools, None."""
    cfg = CONFIGS[size]["vc2"]
    return {
        **cfg["schedule"],
        "first_stage_key": "video",
        "cond_stage_key": "caption",
        "cond_stage_trainable": False,
        "conditioning_key": "crossattn",
        "image_size": [40, 64],
        "channels": 4,
        "uncond_type": "empty_seq",
        "ckpt_path": None,
        "unet_config": {"target": "lvdm.modules.networks.openaimodel3d.UNetModel", "params": cfg["unet"]},
        "first_stage_config": {"target": "lvdm.models.autoencoder.AutoencoderKL", "params": cfg["vae"]},
        "cond_stage_config": {"target": "lvdm.modules.encoders.condition.FrozenOpenCLIPEmbedder", "params": {"freeze": True, "layer": "penultimate"}},
    }
