"""The VideoCrafter2 3D UNet over checkpoint keys (model.diffusion_model.*).

Written from AILab-CVC/VideoCrafter lvdm/modules/networks/openaimodel3d.py (UNetModel,
ResBlock, TemporalConvBlock, Downsample, Upsample, TimestepEmbedSequential) and
lvdm/modules/attention.py (SpatialTransformer, TemporalTransformer, BasicTransformerBlock,
CrossAttention, FeedForward/GEGLU), lvdm/basics.py (normalization: GroupNorm(32), eps 1e-5)
and lvdm/models/utils_diffusion.py (timestep_embedding). `modules(cfg)` is the constructor:
it lays out the blocks as the reference does; `spec` derives the parameters from that layout
and `forward` runs it, so keys, shapes and the computation come from one description.
Options VideoCrafter2 leaves off (relative position, causal temporal attention, temporal
cross-attention, scale-shift norm, resblock up/down, spatial-aware temporal conv, image
cross-attention) are refused rather than half-written.
"""
import math

import torch
import torch.nn.functional as F

from layers import Spec, conv, group_norm, layer_norm, linear

UNSUPPORTED = {
    "use_relative_position": False,
    "use_causal_attention": False,
    "temporal_selfatt_only": True,
    "use_scale_shift_norm": False,
    "resblock_updown": False,
    "tempspatial_aware": False,
    "use_image_attention": False,
    "conv_resample": True,
}


IGNORED = ()


def unread(cfg):
    return []


def heads_for(cfg, ch):
    if cfg["num_head_channels"] == -1:
        return cfg["num_heads"], ch // cfg["num_heads"]
    return ch // cfg["num_head_channels"], cfg["num_head_channels"]


def modules(cfg):
    """Block layout of UNetModel.__init__: lists of layers per TimestepEmbedSequential."""
    for k, v in UNSUPPORTED.items():
        if cfg[k] != v:
            raise NotImplementedError(f"the twin does not implement {k}={cfg[k]}")
    mc, ted = cfg["model_channels"], 4 * cfg["model_channels"]

    def res(n_in, n_out, temporal):
        return {"kind": "res", "in": n_in, "out": n_out, "emb": ted, "temporal_conv": temporal}

    def transformers(ch):
        heads, d_head = heads_for(cfg, ch)
        out = [{"kind": "spatial", "ch": ch, "heads": heads, "d_head": d_head, "depth": cfg["transformer_depth"], "context": cfg["context_dim"], "linear": cfg["use_linear"]}]
        if cfg["temporal_attention"]:
            out.append({"kind": "temporal", "ch": ch, "heads": heads, "d_head": d_head, "depth": cfg["temporal_transformer_depth"], "linear": cfg["use_linear"]})
        return out

    m = {"time_embed": (mc, ted), "fps_embedding": (mc, ted) if cfg["fps_cond"] else None}
    inputs = [[{"kind": "conv", "in": cfg["in_channels"], "out": mc}]]
    # init_attn: TemporalTransformer(model_channels, n_heads=8, d_head=num_head_channels,
    # depth=transformer_depth) without use_linear, i.e. Conv1d projections
    m["init_attn"] = (
        [{"kind": "temporal", "ch": mc, "heads": 8, "d_head": cfg["num_head_channels"], "depth": cfg["transformer_depth"], "linear": False}]
        if cfg["addition_attention"] else None
    )
    chans, ch, ds = [mc], mc, 1
    for level, mult in enumerate(cfg["channel_mult"]):
        for _ in range(cfg["num_res_blocks"]):
            layers = [res(ch, mult * mc, cfg["temporal_conv"])]
            ch = mult * mc
            if ds in cfg["attention_resolutions"]:
                layers += transformers(ch)
            inputs.append(layers)
            chans.append(ch)
        if level != len(cfg["channel_mult"]) - 1:
            inputs.append([{"kind": "down", "ch": ch}])
            chans.append(ch)
            ds *= 2
    middle = [res(ch, ch, cfg["temporal_conv"])] + transformers(ch)  # spatial (+ temporal)
    middle.append(res(ch, ch, cfg["temporal_conv"]))
    outputs = []
    for level, mult in list(enumerate(cfg["channel_mult"]))[::-1]:
        for i in range(cfg["num_res_blocks"] + 1):
            layers = [res(ch + chans.pop(), mult * mc, cfg["temporal_conv"])]
            ch = mult * mc
            if ds in cfg["attention_resolutions"]:
                layers += transformers(ch)
            if level and i == cfg["num_res_blocks"]:
                layers.append({"kind": "up", "ch": ch})
                ds //= 2
            outputs.append(layers)
    m.update(input_blocks=inputs, middle_block=middle, output_blocks=outputs, out=(ch, cfg["out_channels"]))
    return m


# ------------------------------------------------------------------ parameters

def spec_layer(s, p, layer):
    k = layer["kind"]
    if k == "conv":
        s.conv(p, layer["in"], layer["out"], (3, 3))
    elif k == "down":
        s.conv(f"{p}.op", layer["ch"], layer["ch"], (3, 3))
    elif k == "up":
        s.conv(f"{p}.conv", layer["ch"], layer["ch"], (3, 3))
    elif k == "res":
        n_in, n_out = layer["in"], layer["out"]
        s.norm(f"{p}.in_layers.0", n_in)
        s.conv(f"{p}.in_layers.2", n_in, n_out, (3, 3))
        s.linear(f"{p}.emb_layers.1", layer["emb"], n_out)
        s.norm(f"{p}.out_layers.0", n_out)
        s.conv(f"{p}.out_layers.3", n_out, n_out, (3, 3))
        if n_out != n_in:
            s.conv(f"{p}.skip_connection", n_in, n_out, (1, 1))
        if layer["temporal_conv"]:
            for i in range(1, 5):  # Sequential(GroupNorm, SiLU, [Dropout,] Conv3d); `temopral` sic
                s.norm(f"{p}.temopral_conv.conv{i}.0", n_out)
                s.conv(f"{p}.temopral_conv.conv{i}.{2 if i == 1 else 3}", n_out, n_out, (3, 1, 1))
    elif k in ("spatial", "temporal"):
        ch, inner = layer["ch"], layer["heads"] * layer["d_head"]
        proj = (1, 1) if k == "spatial" else (1,)
        s.norm(f"{p}.norm", ch)
        if layer["linear"]:
            s.linear(f"{p}.proj_in", ch, inner)
        else:
            s.conv(f"{p}.proj_in", ch, inner, proj)
        context = layer["context"] if k == "spatial" else inner  # temporal: only_self_att
        for d in range(layer["depth"]):
            b = f"{p}.transformer_blocks.{d}"
            for a, ctx in (("attn1", inner), ("attn2", context)):
                s.linear(f"{b}.{a}.to_q", inner, inner, bias=False)
                s.linear(f"{b}.{a}.to_k", ctx, inner, bias=False)
                s.linear(f"{b}.{a}.to_v", ctx, inner, bias=False)
                s.linear(f"{b}.{a}.to_out.0", inner, inner)
            s.linear(f"{b}.ff.net.0.proj", inner, 2 * 4 * inner)  # GEGLU(dim, 4 dim)
            s.linear(f"{b}.ff.net.2", 4 * inner, inner)
            for n in (1, 2, 3):
                s.norm(f"{b}.norm{n}", inner)
        if layer["linear"]:
            s.linear(f"{p}.proj_out", inner, ch)
        else:
            s.conv(f"{p}.proj_out", inner, ch, proj)
    else:
        raise AssertionError(k)


def spec(cfg, prefix):
    m, s = modules(cfg), Spec(prefix)
    for name in ("time_embed", "fps_embedding"):
        if m[name]:
            s.linear(f"{name}.0", m[name][0], m[name][1])
            s.linear(f"{name}.2", m[name][1], m[name][1])
    for i, layers in enumerate(m["input_blocks"]):
        for j, layer in enumerate(layers):
            spec_layer(s, f"input_blocks.{i}.{j}", layer)
    if m["init_attn"]:
        spec_layer(s, "init_attn.0", m["init_attn"][0])
    for j, layer in enumerate(m["middle_block"]):
        spec_layer(s, f"middle_block.{j}", layer)
    for i, layers in enumerate(m["output_blocks"]):
        for j, layer in enumerate(layers):
            spec_layer(s, f"output_blocks.{i}.{j}", layer)
    ch, out = m["out"]
    s.norm("out.0", ch)
    s.conv("out.2", cfg["model_channels"], out, (3, 3))
    return s


# ------------------------------------------------------------------ forward

def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1) if dim % 2 else emb


def cross_attention(W, p, x, heads, d_head, context=None):
    ctx = x if context is None else context
    q, k, v = linear(W, f"{p}.to_q", x, False), linear(W, f"{p}.to_k", ctx, False), linear(W, f"{p}.to_v", ctx, False)
    split = lambda t: t.reshape(t.shape[0], t.shape[1], heads, d_head).permute(0, 2, 1, 3).reshape(t.shape[0] * heads, t.shape[1], d_head)  # b n (h d) -> (b h) n d
    q, k, v = split(q), split(k), split(v)
    sim = torch.einsum("bid,bjd->bij", q, k) * d_head ** -0.5
    out = torch.einsum("bij,bjd->bid", sim.softmax(dim=-1), v)
    b = x.shape[0]
    out = out.reshape(b, heads, out.shape[1], d_head).permute(0, 2, 1, 3).reshape(b, out.shape[1], heads * d_head)
    return linear(W, f"{p}.to_out.0", out)


def transformer_block(W, p, x, heads, d_head, context):
    x = cross_attention(W, f"{p}.attn1", layer_norm(W, f"{p}.norm1", x), heads, d_head) + x
    x = cross_attention(W, f"{p}.attn2", layer_norm(W, f"{p}.norm2", x), heads, d_head, context) + x
    value, gate = linear(W, f"{p}.ff.net.0.proj", layer_norm(W, f"{p}.norm3", x)).chunk(2, dim=-1)
    return linear(W, f"{p}.ff.net.2", value * F.gelu(gate)) + x


def spatial_transformer(W, p, layer, x, context):
    b, c, h, w = x.shape
    x_in = x
    x = group_norm(W, f"{p}.norm", x, eps=1e-6)
    if not layer["linear"]:
        x = conv(W, f"{p}.proj_in", x)
    x = x.permute(0, 2, 3, 1).reshape(b, h * w, -1)  # b c h w -> b (h w) c
    if layer["linear"]:
        x = linear(W, f"{p}.proj_in", x)
    for d in range(layer["depth"]):
        x = transformer_block(W, f"{p}.transformer_blocks.{d}", x, layer["heads"], layer["d_head"], context)
    if layer["linear"]:
        x = linear(W, f"{p}.proj_out", x)
    x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2)
    if not layer["linear"]:
        x = conv(W, f"{p}.proj_out", x)
    return x + x_in


def temporal_transformer(W, p, layer, x):
    """x [b, c, t, h, w]; self-attention over t at every pixel (only_self_att, no mask)."""
    b, c, t, h, w = x.shape
    x_in = x
    x = group_norm(W, f"{p}.norm", x, eps=1e-6)
    x = x.permute(0, 3, 4, 1, 2).reshape(b * h * w, c, t)  # b c t h w -> (b h w) c t
    if not layer["linear"]:
        x = conv(W, f"{p}.proj_in", x)
    x = x.transpose(1, 2)  # (bhw) t c
    if layer["linear"]:
        x = linear(W, f"{p}.proj_in", x)
    for d in range(layer["depth"]):
        x = transformer_block(W, f"{p}.transformer_blocks.{d}", x, layer["heads"], layer["d_head"], None)
    if layer["linear"]:
        x = linear(W, f"{p}.proj_out", x)
        x = x.reshape(b, h, w, t, c).permute(0, 4, 3, 1, 2)  # b (h w) t c -> b c t h w
    else:
        x = conv(W, f"{p}.proj_out", x.transpose(1, 2))  # (b hw) c t
        x = x.reshape(b, h, w, c, t).permute(0, 3, 4, 1, 2)
    return x + x_in


def frames_back(x, b):  # (b t) c h w -> b c t h w
    return x.reshape(b, x.shape[0] // b, *x.shape[1:]).transpose(1, 2)


def frames_first(x):  # b c t h w -> (b t) c h w
    return x.transpose(1, 2).reshape(-1, x.shape[1], *x.shape[3:])


def res_block(W, p, layer, x, emb, batch):
    h = conv(W, f"{p}.in_layers.2", F.silu(group_norm(W, f"{p}.in_layers.0", x)), padding=1)
    h = h + linear(W, f"{p}.emb_layers.1", F.silu(emb))[..., None, None]
    h = conv(W, f"{p}.out_layers.3", F.silu(group_norm(W, f"{p}.out_layers.0", h)), padding=1)
    h = (x if layer["out"] == layer["in"] else conv(W, f"{p}.skip_connection", x)) + h
    if layer["temporal_conv"]:
        v = frames_back(h, batch)
        y = v
        for i in range(1, 5):
            y = conv(W, f"{p}.temopral_conv.conv{i}.{2 if i == 1 else 3}", F.silu(group_norm(W, f"{p}.temopral_conv.conv{i}.0", y)), padding=(1, 0, 0))
        h = frames_first(y + v)
    return h


def run_layers(W, p, layers, h, emb, context, batch):
    """TimestepEmbedSequential: each layer with what it takes; temporal layers see b c t h w."""
    for j, layer in enumerate(layers):
        q, k = f"{p}.{j}", layer["kind"]
        if k == "conv":
            h = conv(W, q, h, padding=1)
        elif k == "res":
            h = res_block(W, q, layer, h, emb, batch)
        elif k == "spatial":
            h = spatial_transformer(W, q, layer, h, context)
        elif k == "temporal":
            h = frames_first(temporal_transformer(W, q, layer, frames_back(h, batch)))
        elif k == "down":
            h = conv(W, f"{q}.op", h, stride=2, padding=1)
        elif k == "up":
            h = conv(W, f"{q}.conv", F.interpolate(h, scale_factor=2, mode="nearest"), padding=1)
    return h


def forward(W, cfg, x, timesteps, context, fps):
    m = modules(cfg)
    mc = cfg["model_channels"]
    mlp = lambda name, f: linear(W, f"{name}.2", F.silu(linear(W, f"{name}.0", f)))
    emb = mlp("time_embed", timestep_embedding(timesteps, mc))
    if cfg["fps_cond"]:
        fps = torch.full_like(timesteps, fps) if isinstance(fps, int) else fps
        emb = emb + mlp("fps_embedding", timestep_embedding(fps, mc))
    b, _, t, _, _ = x.shape
    context = context.repeat_interleave(repeats=t, dim=0)
    emb = emb.repeat_interleave(repeats=t, dim=0)
    h = frames_first(x)
    hs = []
    for i, layers in enumerate(m["input_blocks"]):
        h = run_layers(W, f"input_blocks.{i}", layers, h, emb, context, b)
        if i == 0 and m["init_attn"]:
            h = run_layers(W, "init_attn", m["init_attn"], h, emb, context, b)
        hs.append(h)
    h = run_layers(W, "middle_block", m["middle_block"], h, emb, context, b)
    for i, layers in enumerate(m["output_blocks"]):
        h = run_layers(W, f"output_blocks.{i}", layers, torch.cat([h, hs.pop()], dim=1), emb, context, b)
    y = conv(W, "out.2", F.silu(group_norm(W, "out.0", h)), padding=1)
    return frames_back(y, b)
