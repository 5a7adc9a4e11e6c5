"""The LDM AutoencoderKL of VideoCrafter2: the keys of `first_stage_model.*`.

Facts from AILab-CVC/VideoCrafter: lvdm/models/autoencoder.py (AutoencoderKL: encoder, decoder,
an Identity loss, quant_conv, post_quant_conv) and lvdm/modules/networks/ae_modules.py (Encoder,
Decoder, ResnetBlock with temb_channels=0, AttnBlock with 1x1 q/k/v/proj_out convs). The
config is `first_stage_config.params` of configs/inference_t2v_512_v2.0.yaml: `ddconfig` plus
`embed_dim`.
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
        k.conv("nin_shortcut", c_in, c_out, CONV1)


def _attn(k: Keys, c: int) -> None:
    k.norm("norm", c)
    for name in ("q", "k", "v", "proj_out"):
        k.conv(name, c, c, CONV1)


def _mid(k: Keys, c: int) -> None:
    _resnet(k.scope("block_1"), c, c)
    _attn(k.scope("attn_1"), c)
    _resnet(k.scope("block_2"), c, c)


def _encoder(k: Keys, dd) -> None:
    ch, mult, nrb = dd["ch"], dd["ch_mult"], dd["num_res_blocks"]
    attn_res = dd.get("attn_resolutions", [])
    k.conv("conv_in", dd["in_channels"], ch, CONV3)
    in_mult = (1,) + tuple(mult)
    res = dd["resolution"]
    block_in = ch
    for level in range(len(mult)):
        down = k.scope(f"down.{level}")
        block_in = ch * in_mult[level]
        block_out = ch * mult[level]
        attn = []
        for i in range(nrb):
            _resnet(down.scope(f"block.{i}"), block_in, block_out)
            block_in = block_out
            if res in attn_res:
                attn.append(i)
        for i in attn:  # down.block is registered before down.attn
            _attn(down.scope(f"attn.{i}"), block_in)
        if level != len(mult) - 1:
            down.conv("downsample.conv", block_in, block_in, CONV3)  # stride 2, padding done by hand
            res //= 2
    _mid(k.scope("mid"), block_in)
    k.norm("norm_out", block_in)
    k.conv("conv_out", block_in, 2 * dd["z_channels"] if dd.get("double_z", True) else dd["z_channels"], CONV3)


def _decoder(k: Keys, dd) -> None:
    ch, mult, nrb = dd["ch"], dd["ch_mult"], dd["num_res_blocks"]
    attn_res = dd.get("attn_resolutions", [])
    block_in = ch * mult[-1]
    res = dd["resolution"] // 2 ** (len(mult) - 1)
    k.conv("conv_in", dd["z_channels"], block_in, CONV3)
    _mid(k.scope("mid"), block_in)
    # The levels are built from the deepest up but stored as up.0 (full resolution) .. up.N-1.
    levels = {}
    for level in reversed(range(len(mult))):
        up = Keys(f"{k.prefix}up.{level}.", [])
        block_out = ch * mult[level]
        attn = []
        for i in range(nrb + 1):
            _resnet(up.scope(f"block.{i}"), block_in, block_out)
            block_in = block_out
            if res in attn_res:
                attn.append(i)
        for i in attn:
            _attn(up.scope(f"attn.{i}"), block_in)
        if level != 0:
            up.conv("upsample.conv", block_in, block_in, CONV3)
            res *= 2
        levels[level] = up.entries
    for level in range(len(mult)):
        k.entries.extend(levels[level])
    k.norm("norm_out", block_in)
    k.conv("conv_out", block_in, dd["out_ch"], CONV3)


def autoencoder_keys(cfg, prefix: str = ""):
    dd = cfg["ddconfig"]
    z, embed = dd["z_channels"], cfg["embed_dim"]
    k = Keys(prefix)
    _encoder(k.scope("encoder"), dd)
    _decoder(k.scope("decoder"), dd)
    k.conv("quant_conv", 2 * z, 2 * embed, CONV1)
    k.conv("post_quant_conv", embed, z, CONV1)
    return k.entries
