"""The KL autoencoder's decoding half over checkpoint keys (first_stage_model.*):
AutoencoderKL.decode = post_quant_conv then Decoder.

Written from AILab-CVC/VideoCrafter lvdm/models/autoencoder.py (AutoencoderKL: quant convs)
and lvdm/modules/networks/ae_modules.py (Decoder, ResnetBlock with temb_channels 0, AttnBlock,
Upsample, Normalize = GroupNorm(32, eps 1e-6), nonlinearity = swish). The encoder half
(first_stage_model.encoder.*, quant_conv) is not under test: its keys are documented extras.
"""
import torch
import torch.nn.functional as F

from layers import Spec, conv, group_norm

IGNORED = ("encoder.", "quant_conv.")  # in the file, not declared: relative to the prefix


def unread(cfg):
    return []


def modules(cfg):
    if cfg["attn_type"] != "vanilla" or cfg["give_pre_end"] or cfg["tanh_out"]:
        raise NotImplementedError("the twin implements the vanilla-attention decoder only")
    ch, mult = cfg["ch"], cfg["ch_mult"]
    levels = len(mult)
    block_in = ch * mult[-1]
    curr_res = cfg["resolution"] // 2 ** (levels - 1)
    m = {"conv_in": (cfg["z_channels"], block_in), "mid": block_in, "up": {}}
    for i in reversed(range(levels)):
        blocks, attn = [], []
        for _ in range(cfg["num_res_blocks"] + 1):
            blocks.append((block_in, ch * mult[i]))
            block_in = ch * mult[i]
            if curr_res in cfg["attn_resolutions"]:
                attn.append(block_in)
        m["up"][i] = {"block": blocks, "attn": attn, "upsample": block_in if i != 0 else None}
        if i != 0:
            curr_res *= 2
    m["out"] = (block_in, cfg["out_ch"])
    return m


def spec_resnet(s, p, n_in, n_out):
    s.norm(f"{p}.norm1", n_in)
    s.conv(f"{p}.conv1", n_in, n_out, (3, 3))
    s.norm(f"{p}.norm2", n_out)
    s.conv(f"{p}.conv2", n_out, n_out, (3, 3))
    if n_in != n_out:
        s.conv(f"{p}.nin_shortcut", n_in, n_out, (1, 1))


def spec_attn(s, p, c):
    s.norm(f"{p}.norm", c)
    for name in ("q", "k", "v", "proj_out"):
        s.conv(f"{p}.{name}", c, c, (1, 1))


def spec(cfg, prefix):
    m, s = modules(cfg), Spec(prefix)
    s.conv("post_quant_conv", cfg["embed_dim"], cfg["z_channels"], (1, 1))
    s.conv("decoder.conv_in", *m["conv_in"], (3, 3))
    spec_resnet(s, "decoder.mid.block_1", m["mid"], m["mid"])
    spec_attn(s, "decoder.mid.attn_1", m["mid"])
    spec_resnet(s, "decoder.mid.block_2", m["mid"], m["mid"])
    for i in sorted(m["up"]):  # ModuleList order (up.insert(0, ...))
        up = m["up"][i]
        for j, (n_in, n_out) in enumerate(up["block"]):
            spec_resnet(s, f"decoder.up.{i}.block.{j}", n_in, n_out)
        for j, c in enumerate(up["attn"]):
            spec_attn(s, f"decoder.up.{i}.attn.{j}", c)
        if up["upsample"]:
            s.conv(f"decoder.up.{i}.upsample.conv", up["upsample"], up["upsample"], (3, 3))
    s.norm("decoder.norm_out", m["out"][0])
    s.conv("decoder.conv_out", *m["out"], (3, 3))
    return s


def swish(x):
    return x * torch.sigmoid(x)


def resnet(W, p, x):
    h = conv(W, f"{p}.conv1", swish(group_norm(W, f"{p}.norm1", x, eps=1e-6)), padding=1)
    h = conv(W, f"{p}.conv2", swish(group_norm(W, f"{p}.norm2", h, eps=1e-6)), padding=1)
    if h.shape[1] != x.shape[1]:
        x = conv(W, f"{p}.nin_shortcut", x)
    return x + h


def attn_block(W, p, x):
    h = group_norm(W, f"{p}.norm", x, eps=1e-6)
    q, k, v = (conv(W, f"{p}.{n}", h) for n in ("q", "k", "v"))
    b, c, hh, ww = q.shape
    w_ = torch.bmm(q.reshape(b, c, hh * ww).permute(0, 2, 1), k.reshape(b, c, hh * ww)) * (int(c) ** -0.5)
    w_ = F.softmax(w_, dim=2)
    h = torch.bmm(v.reshape(b, c, hh * ww), w_.permute(0, 2, 1)).reshape(b, c, hh, ww)
    return x + conv(W, f"{p}.proj_out", h)


def decode(W, cfg, z):
    """z [N, embed_dim, h, w] (already divided by the scale factor) -> images [N, out_ch, 8h, 8w]."""
    m = modules(cfg)
    h = conv(W, "decoder.conv_in", conv(W, "post_quant_conv", z), padding=1)
    h = resnet(W, "decoder.mid.block_1", h)
    h = attn_block(W, "decoder.mid.attn_1", h)
    h = resnet(W, "decoder.mid.block_2", h)
    for i in reversed(range(len(cfg["ch_mult"]))):
        up = m["up"][i]
        for j in range(len(up["block"])):
            h = resnet(W, f"decoder.up.{i}.block.{j}", h)
            if up["attn"]:
                h = attn_block(W, f"decoder.up.{i}.attn.{j}", h)
        if up["upsample"]:
            h = conv(W, f"decoder.up.{i}.upsample.conv", F.interpolate(h, scale_factor=2.0, mode="nearest"), padding=1)
    h = swish(group_norm(W, "decoder.norm_out", h, eps=1e-6))
    return conv(W, "decoder.conv_out", h, padding=1)
