"""VideoCrafter2's 3D UNet: the keys of `model.diffusion_model.*` in base_512_v2/model.ckpt.

Facts from AILab-CVC/VideoCrafter: lvdm/modules/networks/openaimodel3d.py (UNetModel, ResBlock,
TemporalConvBlock, Downsample, Upsample) and lvdm/modules/attention.py (SpatialTransformer,
TemporalTransformer, BasicTransformerBlock, CrossAttention, FeedForward). The config uses that
code's own parameter names (configs/inference_t2v_512_v2.0.yaml, unet_config.params). The
reference really spells the ResBlock's temporal convolution `temopral_conv`.
"""

from manifest import Keys

CONV3 = (3, 3)
CONV1 = (1, 1)


def _check(cfg):
    unsupported = {
        "resblock_updown": False,
        "use_image_attention": False,
        "dims": 2,
        "conv_resample": True,
    }
    for name, wanted in unsupported.items():
        if cfg.get(name, wanted) != wanted:
            raise ValueError(f"lvdm UNet manifest: {name}={cfg[name]!r} is not covered (VideoCrafter2 uses {wanted!r})")


def _res_block(k: Keys, cfg, c_in: int, c_out: int, temb: int) -> None:
    """ResBlock: in_layers (GroupNorm, SiLU, conv), emb_layers (SiLU, Linear), out_layers
    (GroupNorm, SiLU, Dropout, conv), a 1x1 skip when the width changes, then the temporal conv."""
    k.norm("in_layers.0", c_in)
    k.conv("in_layers.2", c_in, c_out, CONV3)
    k.linear("emb_layers.1", temb, 2 * c_out if cfg.get("use_scale_shift_norm", False) else c_out)
    k.norm("out_layers.0", c_out)
    k.conv("out_layers.3", c_out, c_out, CONV3)
    if c_out != c_in:
        k.conv("skip_connection", c_in, c_out, CONV1)
    if cfg.get("temporal_conv", False):
        # TemporalConvBlock: four (GroupNorm, SiLU, [Dropout], Conv3d) stages; only the first two
        # become 3x3x3 when tempspatial_aware.
        t = k.scope("temopral_conv")
        wide = (3, 3, 3) if cfg.get("tempspatial_aware", False) else (3, 1, 1)
        t.norm("conv1.0", c_out)
        t.conv("conv1.2", c_out, c_out, wide)
        t.norm("conv2.0", c_out)
        t.conv("conv2.3", c_out, c_out, wide)
        t.norm("conv3.0", c_out)
        t.conv("conv3.3", c_out, c_out, (3, 1, 1))
        t.norm("conv4.0", c_out)
        t.conv("conv4.3", c_out, c_out, (3, 1, 1))


def _cross_attention(k: Keys, query_dim: int, context_dim: int, inner: int, d_head: int, relative_length=None) -> None:
    """CrossAttention: to_q/to_k/to_v without bias, to_out = (Linear, Dropout)."""
    k.linear("to_q", query_dim, inner, bias=False)
    k.linear("to_k", context_dim, inner, bias=False)
    k.linear("to_v", context_dim, inner, bias=False)
    k.linear("to_out.0", inner, query_dim)
    if relative_length is not None:
        for name in ("relative_position_k", "relative_position_v"):
            k.add(f"{name}.embeddings_table", (2 * relative_length + 1, d_head), "embedding")


def _transformer_block(k: Keys, dim: int, context_dim, heads: int, d_head: int, relative_length=None) -> None:
    """BasicTransformerBlock, in its registration order: attn1, ff (GEGLU), attn2, norm1..3.
    attn1 is self-attention (disable_self_attn is never set); attn2 attends to `context_dim`,
    or to itself when None."""
    inner = heads * d_head
    _cross_attention(k.scope("attn1"), dim, dim, inner, d_head, relative_length)
    ff_inner = 4 * dim
    k.linear("ff.net.0.proj", dim, 2 * ff_inner)  # GEGLU: value and gate in one Linear
    k.linear("ff.net.2", ff_inner, dim)
    _cross_attention(k.scope("attn2"), dim, dim if context_dim is None else context_dim, inner, d_head, relative_length)
    for name in ("norm1", "norm2", "norm3"):
        k.norm(name, dim)


def _projection(k: Keys, name: str, c_in: int, c_out: int, use_linear: bool, conv_kernel) -> None:
    if use_linear:
        k.linear(name, c_in, c_out)
    else:
        k.conv(name, c_in, c_out, conv_kernel)


def _spatial_transformer(k: Keys, cfg, ch: int, heads: int, d_head: int) -> None:
    inner = heads * d_head
    use_linear = cfg.get("use_linear", False)
    k.norm("norm", ch)
    _projection(k, "proj_in", ch, inner, use_linear, CONV1)
    for d in range(cfg.get("transformer_depth", 1)):
        _transformer_block(k.scope(f"transformer_blocks.{d}"), inner, cfg.get("context_dim"), heads, d_head)
    _projection(k, "proj_out", inner, ch, use_linear, CONV1)


def _temporal_transformer(k: Keys, cfg, ch: int, heads: int, d_head: int, depth: int, use_linear: bool) -> None:
    """TemporalTransformer: proj_in/proj_out are Conv1d (kernel 1) unless use_linear; with
    temporal_selfatt_only the block's attn2 is a second self-attention."""
    inner = heads * d_head
    context = None if cfg.get("temporal_selfatt_only", True) else cfg.get("context_dim")
    relative = cfg.get("temporal_length") if cfg.get("use_relative_position", True) else None
    k.norm("norm", ch)
    _projection(k, "proj_in", ch, inner, use_linear, (1,))
    for d in range(depth):
        _transformer_block(k.scope(f"transformer_blocks.{d}"), inner, context, heads, d_head, relative)
    _projection(k, "proj_out", inner, ch, use_linear, (1,))


def _heads(cfg, ch: int):
    """(heads, head width) at `ch` channels: num_head_channels fixes the width, else num_heads."""
    nhc = cfg.get("num_head_channels", -1)
    if nhc != -1:
        return ch // nhc, nhc
    return cfg["num_heads"], ch // cfg["num_heads"]


def _attention_layers(k: Keys, cfg, start: int, ch: int) -> int:
    """SpatialTransformer (+ TemporalTransformer) at layer indices start, start+1; returns the next index."""
    heads, d_head = _heads(cfg, ch)
    _spatial_transformer(k.scope(str(start)), cfg, ch, heads, d_head)
    start += 1
    if cfg.get("temporal_attention", True):
        _temporal_transformer(k.scope(str(start)), cfg, ch, heads, d_head, cfg.get("temporal_transformer_depth", 1), cfg.get("use_linear", False))
        start += 1
    return start


def unet_keys(cfg, prefix: str = ""):
    _check(cfg)
    k = Keys(prefix)
    mc = cfg["model_channels"]
    temb = 4 * mc
    mult = cfg["channel_mult"]
    nrb = cfg["num_res_blocks"]
    attn_res = cfg["attention_resolutions"]

    k.linear("time_embed.0", mc, temb)
    k.linear("time_embed.2", temb, temb)
    if cfg.get("fps_cond", False):
        k.linear("fps_embedding.0", mc, temb)
        k.linear("fps_embedding.2", temb, temb)

    # input_blocks is registered before init_attn, so all of it comes first in the state dict.
    k.conv("input_blocks.0.0", cfg["in_channels"], mc, CONV3)
    skips = [mc]
    ch, ds, index = mc, 1, 1
    for level, m in enumerate(mult):
        for _ in range(nrb):
            block = k.scope(f"input_blocks.{index}")
            _res_block(block.scope("0"), cfg, ch, m * mc, temb)
            ch = m * mc
            if ds in attn_res:
                _attention_layers(block, cfg, 1, ch)
            skips.append(ch)
            index += 1
        if level != len(mult) - 1:
            k.conv(f"input_blocks.{index}.0.op", ch, ch, CONV3)  # Downsample, stride 2
            skips.append(ch)
            index += 1
            ds *= 2

    if cfg.get("addition_attention", False):
        # 8 heads of num_head_channels at the first block's width; built without use_linear.
        _temporal_transformer(k.scope("init_attn.0"), cfg, mc, 8, cfg["num_head_channels"], cfg.get("transformer_depth", 1), False)

    mid = k.scope("middle_block")
    _res_block(mid.scope("0"), cfg, ch, ch, temb)
    last = _attention_layers(mid, cfg, 1, ch)
    _res_block(mid.scope(str(last)), cfg, ch, ch, temb)

    index = 0
    for level in reversed(range(len(mult))):
        m = mult[level]
        for i in range(nrb + 1):
            block = k.scope(f"output_blocks.{index}")
            _res_block(block.scope("0"), cfg, ch + skips.pop(), m * mc, temb)
            ch = m * mc
            layer = 1
            if ds in attn_res:
                layer = _attention_layers(block, cfg, 1, ch)
            if level and i == nrb:
                block.conv(f"{layer}.conv", ch, ch, CONV3)  # Upsample: nearest x2, then conv
                ds //= 2
            index += 1

    k.norm("out.0", ch)
    k.conv("out.2", mc, cfg["out_channels"], CONV3)
    return k.entries
