"""AutoencoderKL in diffusers' layout: the keys of vae/diffusion_pytorch_model.safetensors.

Facts from huggingface/diffusers: src/diffusers/models/autoencoders/autoencoder_kl.py
(encoder, decoder, quant_conv, post_quant_conv), autoencoders/vae.py (Encoder: conv_in,
down_blocks, mid_block, conv_norm_out, conv_out; Decoder: conv_in, up_blocks (registered before
mid_block), mid_block, conv_norm_out, conv_out), unets/unet_2d_blocks.py (DownEncoderBlock2D,
UpDecoderBlock2D, UNetMidBlock2D: attentions before resnets, the attention with a GroupNorm and
biased to_q/to_k/to_v), models/resnet.py (ResnetBlock2D without a time embedding).

These are the current attention names. Files written before diffusers converted them (the
"deprecated attention block") name the mid attention `query`, `key`, `value`, `proj_attn`
instead of `to_q`, `to_k`, `to_v`, `to_out.0` (same shapes); see README.md.
"""

from manifest import Keys

CONV3 = (3, 3)
CONV1 = (1, 1)


def _resnet(k: Keys, c_in: int, c_out: int) -> None:
    k.norm("norm1", c_in)
    k.conv("conv1", c_in, c_out, CONV3)
    k.norm("norm2", c_out)
    k.conv("conv2", c_out, c_out, CONV3)
    if c_in != c_out:
        k.conv("conv_shortcut", c_in, c_out, CONV1)


def _mid(k: Keys, c: int, attention: bool) -> None:
    if attention:
        a = k.scope("attentions.0")
        a.norm("group_norm", c)
        for name in ("to_q", "to_k", "to_v", "to_out.0"):
            a.linear(name, c, c)
    for j in range(2):
        _resnet(k.scope(f"resnets.{j}"), c, c)


def vae_keys(cfg, prefix: str = ""):
    chans = cfg["block_out_channels"]
    lpb = cfg["layers_per_block"]
    latent = cfg["latent_channels"]
    attention = cfg.get("mid_block_add_attention", True)
    for kind in cfg["down_block_types"]:
        if kind != "DownEncoderBlock2D":
            raise ValueError(f"diffusers VAE manifest: down block {kind!r} is not covered")
    for kind in cfg["up_block_types"]:
        if kind != "UpDecoderBlock2D":
            raise ValueError(f"diffusers VAE manifest: up block {kind!r} is not covered")
    k = Keys(prefix)

    e = k.scope("encoder")
    e.conv("conv_in", cfg["in_channels"], chans[0], CONV3)
    out = chans[0]
    for i in range(len(chans)):
        b = e.scope(f"down_blocks.{i}")
        c_in, out = out, chans[i]
        for j in range(lpb):
            _resnet(b.scope(f"resnets.{j}"), c_in if j == 0 else out, out)
        if i != len(chans) - 1:
            b.conv("downsamplers.0.conv", out, out, CONV3)
    _mid(e.scope("mid_block"), chans[-1], attention)
    e.norm("conv_norm_out", chans[-1])
    e.conv("conv_out", chans[-1], 2 * latent, CONV3)  # double_z

    d = k.scope("decoder")
    d.conv("conv_in", latent, chans[-1], CONV3)
    rev = list(reversed(chans))
    out = rev[0]
    for i in range(len(chans)):
        b = d.scope(f"up_blocks.{i}")
        prev, out = out, rev[i]
        for j in range(lpb + 1):
            _resnet(b.scope(f"resnets.{j}"), prev if j == 0 else out, out)
        if i != len(chans) - 1:
            b.conv("upsamplers.0.conv", out, out, CONV3)
    _mid(d.scope("mid_block"), chans[-1], attention)
    d.norm("conv_norm_out", chans[0])
    d.conv("conv_out", chans[0], cfg["out_channels"], CONV3)

    if cfg.get("use_quant_conv", True):
        k.conv("quant_conv", 2 * latent, 2 * latent, CONV1)
    if cfg.get("use_post_quant_conv", True):
        k.conv("post_quant_conv", latent, latent, CONV1)
    return k.entries
