"""ModelScope T2V's UNet in diffusers' layout: the keys of unet/diffusion_pytorch_model.safetensors.

Facts from huggingface/diffusers: src/diffusers/models/unets/unet_3d_condition.py
(UNet3DConditionModel), unets/unet_3d_blocks.py (CrossAttnDownBlock3D, DownBlock3D,
UNetMidBlock3DCrossAttn, UpBlock3D, CrossAttnUpBlock3D), models/resnet.py (ResnetBlock2D,
TemporalConvLayer), downsampling.py / upsampling.py (Downsample2D, Upsample2D: the conv is
`conv` even when named "op"), transformers/transformer_2d.py (Transformer2DModel, linear
projections: get_down_block/get_up_block and the mid block pass use_linear_projection=True),
transformers/transformer_temporal.py (TransformerTemporalModel: Linear proj_in/proj_out,
double_self_attention), attention.py (BasicTransformerBlock: norm1, attn1, norm2, attn2, norm3,
ff with GEGLU), attention_processor.py (Attention: to_q/to_k/to_v, to_out.0),
embeddings.py (TimestepEmbedding: linear_1, linear_2). The config is unet/config.json's.

`attention_head_dim` is, in this model, used as the number of heads (diffusers issue #2011,
explained in UNet3DConditionModel.__init__); only transformer_in has 8 heads of
attention_head_dim channels. Widths in the keys do not depend on how heads split.
"""

from manifest import Keys

CONV3 = (3, 3)
CONV1 = (1, 1)


def _resnet(k: Keys, c_in: int, c_out: int, temb) -> None:
    k.norm("norm1", c_in)
    k.conv("conv1", c_in, c_out, CONV3)
    if temb is not None:
        k.linear("time_emb_proj", temb, c_out)
    k.norm("norm2", c_out)
    k.conv("conv2", c_out, c_out, CONV3)
    if c_in != c_out:
        k.conv("conv_shortcut", c_in, c_out, CONV1)


def _temp_conv(k: Keys, c: int) -> None:
    """TemporalConvLayer: (GroupNorm, SiLU, Conv3d), then three (GroupNorm, SiLU, Dropout, Conv3d)."""
    k.norm("conv1.0", c)
    k.conv("conv1.2", c, c, (3, 1, 1))
    for name in ("conv2", "conv3", "conv4"):
        k.norm(f"{name}.0", c)
        k.conv(f"{name}.3", c, c, (3, 1, 1))


def _attention(k: Keys, dim: int, context: int) -> None:
    k.linear("to_q", dim, dim, bias=False)
    k.linear("to_k", context, dim, bias=False)
    k.linear("to_v", context, dim, bias=False)
    k.linear("to_out.0", dim, dim)


def _block(k: Keys, dim: int, context) -> None:
    """BasicTransformerBlock with attn2: cross-attention to `context`, or self when None."""
    k.norm("norm1", dim)
    _attention(k.scope("attn1"), dim, dim)
    k.norm("norm2", dim)
    _attention(k.scope("attn2"), dim, dim if context is None else context)
    k.norm("norm3", dim)
    k.linear("ff.net.0.proj", dim, 8 * dim)  # GEGLU of inner width 4 * dim
    k.linear("ff.net.2", 4 * dim, dim)


def _transformer(k: Keys, c: int, inner: int, context) -> None:
    """Transformer2DModel (linear projections) and TransformerTemporalModel share this layout."""
    k.norm("norm", c)
    k.linear("proj_in", c, inner)
    _block(k.scope("transformer_blocks.0"), inner, context)
    k.linear("proj_out", inner, c)


def _attentions(k: Keys, index: int, c: int, cross: int) -> None:
    _transformer(k.scope(f"attentions.{index}"), c, c, cross)


def _temp_attentions(k: Keys, index: int, c: int) -> None:
    _transformer(k.scope(f"temp_attentions.{index}"), c, c, None)  # double_self_attention


def unet3d_keys(cfg, prefix: str = ""):
    if cfg.get("time_cond_proj_dim") is not None:
        raise ValueError("diffusers UNet3D manifest: time_cond_proj_dim is not covered")
    k = Keys(prefix)
    chans = cfg["block_out_channels"]
    lpb = cfg["layers_per_block"]
    cross = cfg["cross_attention_dim"]
    temb = 4 * chans[0]

    k.conv("conv_in", cfg["in_channels"], chans[0], CONV3)
    k.linear("time_embedding.linear_1", chans[0], temb)
    k.linear("time_embedding.linear_2", temb, temb)
    _transformer(k.scope("transformer_in"), chans[0], 8 * cfg["attention_head_dim"], None)

    out = chans[0]
    for i, kind in enumerate(cfg["down_block_types"]):
        b = k.scope(f"down_blocks.{i}")
        c_in, out = out, chans[i]
        for j in range(lpb):
            _resnet(b.scope(f"resnets.{j}"), c_in if j == 0 else out, out, temb)
        for j in range(lpb):
            _temp_conv(b.scope(f"temp_convs.{j}"), out)
        if kind == "CrossAttnDownBlock3D":
            for j in range(lpb):
                _attentions(b, j, out, cross)
            for j in range(lpb):
                _temp_attentions(b, j, out)
        elif kind != "DownBlock3D":
            raise ValueError(f"diffusers UNet3D manifest: down block {kind!r} is not covered")
        if i != len(chans) - 1:
            b.conv("downsamplers.0.conv", out, out, CONV3)

    # up_blocks is registered before mid_block (it is created empty first).
    rev = list(reversed(chans))
    out = rev[0]
    for i, kind in enumerate(cfg["up_block_types"]):
        b = k.scope(f"up_blocks.{i}")
        prev, out = out, rev[i]
        c_skip_last = rev[min(i + 1, len(chans) - 1)]
        n = lpb + 1
        for j in range(n):
            c_in = (prev if j == 0 else out) + (c_skip_last if j == n - 1 else out)
            _resnet(b.scope(f"resnets.{j}"), c_in, out, temb)
        for j in range(n):
            _temp_conv(b.scope(f"temp_convs.{j}"), out)
        if kind == "CrossAttnUpBlock3D":
            for j in range(n):
                _attentions(b, j, out, cross)
            for j in range(n):
                _temp_attentions(b, j, out)
        elif kind != "UpBlock3D":
            raise ValueError(f"diffusers UNet3D manifest: up block {kind!r} is not covered")
        if i != len(chans) - 1:
            b.conv("upsamplers.0.conv", out, out, CONV3)

    mid = k.scope("mid_block")
    c = chans[-1]
    for j in range(2):
        _resnet(mid.scope(f"resnets.{j}"), c, c, temb)
    for j in range(2):
        _temp_conv(mid.scope(f"temp_convs.{j}"), c)
    _attentions(mid, 0, c, cross)
    _temp_attentions(mid, 0, c)

    k.norm("conv_norm_out", chans[0])
    k.conv("conv_out", chans[0], cfg["out_channels"], CONV3)
    return k.entries
