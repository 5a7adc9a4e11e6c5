"""The PyTorch twin of vplc's tiny VADER train_step (compiler/lower/reward.ts, bench/vader_step.ts).

One DDIM step with classifier-free guidance (cond and uncond in one batch of 2B) through the
tiny VideoCrafter2-style UNet3D with LoRA on the spatial transformers' attention projections,
the VAE decoder on the chosen latent frames, the brightness reward and its loss, backward,
global-norm clipping and AdamW on the LoRA factors. Written functionally over a dict of tensors
whose keys are vplc's parameter names (`unet.input_blocks.3.1.transformer_blocks.0.attn1.to_q.weight`,
`vae.decoder.up.0.block.1.conv2.bias`, ...), so the weights load by name and any name that one
side has and the other does not is an error.

  /usr/bin/python3 bench/vader_torch.py crosscheck DIR      # DIR/{config.json,weights,inputs}.safetensors -> DIR/torch.safetensors
  /usr/bin/python3 bench/vader_torch.py serve DIR WARMUP    # then one line "N" per round on stdin -> one JSON line per round
  /usr/bin/python3 bench/vader_torch.py memory DIR STEPS    # one JSON line: VmHWM after the setup and after STEPS steps
"""
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net_torch import read_safetensors, write_safetensors  # noqa: E402


def vm_hwm():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return float("nan")


class Model:
    """The tiny UNet3D + VAE decoder over the weight dict W (names as vplc's ParameterStore)."""

    def __init__(self, cfg, weights):
        self.cfg = cfg
        self.unet = cfg["unet"]
        self.vae = cfg["vae"]
        self.W = weights
        self.lora_scale = cfg["lora"]["alpha"] / cfg["lora"]["rank"]
        self.used = set()

    def w(self, name):
        self.used.add(name)
        return self.W[name]

    # ---------------------------------------------------------------- layers
    def linear(self, x, p, bias=True):
        y = F.linear(x, self.w(f"{p}.weight"), self.w(f"{p}.bias") if bias else None)
        a = f"{p}.lora_A.weight"
        if a in self.W:
            h = F.linear(F.linear(x, self.w(a)), self.w(f"{p}.lora_B.weight"))
            y = y + h * self.lora_scale
        return y

    def pointwise(self, x, p):
        wt = self.w(f"{p}.weight")
        return F.linear(x, wt.reshape(wt.shape[0], -1), self.w(f"{p}.bias"))

    def group_norm(self, x, p, groups, eps):
        return F.group_norm(x, groups, self.w(f"{p}.weight"), self.w(f"{p}.bias"), eps)

    def layer_norm(self, x, p):
        return F.layer_norm(x, (x.shape[-1],), self.w(f"{p}.weight"), self.w(f"{p}.bias"), 1e-5)

    def conv2d(self, x, p, stride=1, padding=1):
        return F.conv2d(x, self.w(f"{p}.weight"), self.w(f"{p}.bias"), stride=stride, padding=padding)

    def conv3d_time(self, x, p):
        return F.conv3d(x, self.w(f"{p}.weight"), self.w(f"{p}.bias"), padding=(1, 0, 0))

    def attention(self, x, p, heads, dim_head, context=None):
        ctx = x if context is None else context
        b, lq, _ = x.shape
        lk = ctx.shape[1]
        q = self.linear(x, f"{p}.to_q", bias=False)
        k = self.linear(ctx, f"{p}.to_k", bias=False)
        v = self.linear(ctx, f"{p}.to_v", bias=False)
        q = (q * (1.0 / math.sqrt(dim_head))).reshape(b, lq, heads, dim_head).transpose(1, 2)  # scaled first, as vplc
        k = k.reshape(b, lk, heads, dim_head).permute(0, 2, 3, 1)
        v = v.reshape(b, lk, heads, dim_head).transpose(1, 2)
        o = torch.softmax(q @ k, dim=-1) @ v
        return self.linear(o.transpose(1, 2).reshape(b, lq, heads * dim_head), f"{p}.to_out.0")

    def geglu(self, x, p):
        value, gate = self.linear(x, f"{p}.net.0.proj").chunk(2, dim=-1)
        return self.linear(value * F.gelu(gate), f"{p}.net.2")

    def transformer_block(self, x, p, heads, dim_head, context):
        h = self.attention(self.layer_norm(x, f"{p}.norm1"), f"{p}.attn1", heads, dim_head) + x
        h = self.attention(self.layer_norm(h, f"{p}.norm2"), f"{p}.attn2", heads, dim_head, context) + h
        return self.geglu(self.layer_norm(h, f"{p}.norm3"), f"{p}.ff") + h

    # ---------------------------------------------------------------- UNet blocks
    @staticmethod
    def frames_first(x):  # [B, C, T, H, W] -> [(B T), C, H, W]
        b, c, t, h, w = x.shape
        return x.transpose(1, 2).reshape(b * t, c, h, w)

    @staticmethod
    def frames_back(x, batch):  # [(B T), C, H, W] -> [B, C, T, H, W]
        bt, c, h, w = x.shape
        return x.reshape(batch, bt // batch, c, h, w).transpose(1, 2)

    def temporal_conv_block(self, x, p):
        groups = self.unet["normGroups"]
        h = x
        for i in range(1, 5):
            h = F.silu(self.group_norm(h, f"{p}.conv{i}.0", groups, 1e-5))
            h = self.conv3d_time(h, f"{p}.conv{i}.{2 if i == 1 else 3}")
        return h + x

    def res_block(self, x, p, out, emb, batch):
        groups = self.unet["normGroups"]
        h = self.conv2d(F.silu(self.group_norm(x, f"{p}.in_layers.0", groups, 1e-5)), f"{p}.in_layers.2")
        e = self.linear(F.silu(emb), f"{p}.emb_layers.1")
        h = h + e[:, :, None, None]
        h = self.conv2d(F.silu(self.group_norm(h, f"{p}.out_layers.0", groups, 1e-5)), f"{p}.out_layers.3")
        skip = x if x.shape[1] == out else self.conv2d(x, f"{p}.skip_connection", padding=0)
        h = skip + h
        if self.unet["temporalConv"]:
            h = self.frames_first(self.temporal_conv_block(self.frames_back(h, batch), f"{p}.temopral_conv"))
        return h

    def spatial_transformer(self, x, p, heads, dim_head, context):
        n, c, hh, ww = x.shape
        h = self.group_norm(x, f"{p}.norm", self.unet["normGroups"], 1e-6)
        h = h.permute(0, 2, 3, 1).reshape(n, hh * ww, c)
        h = self.pointwise(h, f"{p}.proj_in")
        for d in range(self.unet["transformerDepth"]):
            h = self.transformer_block(h, f"{p}.transformer_blocks.{d}", heads, dim_head, context)
        h = self.pointwise(h, f"{p}.proj_out")
        return h.reshape(n, hh, ww, c).permute(0, 3, 1, 2) + x

    def temporal_transformer(self, x, p, heads, dim_head, depth, batch):
        video = self.frames_back(x, batch)
        b, c, t, hh, ww = video.shape
        normed = self.group_norm(video, f"{p}.norm", self.unet["normGroups"], 1e-6)
        h = normed.permute(0, 3, 4, 2, 1).reshape(b * hh * ww, t, c)
        h = self.pointwise(h, f"{p}.proj_in")
        for d in range(depth):
            h = self.transformer_block(h, f"{p}.transformer_blocks.{d}", heads, dim_head, None)
        h = self.pointwise(h, f"{p}.proj_out")
        back = h.reshape(b, hh, ww, t, c).permute(0, 4, 3, 1, 2)
        return self.frames_first(back + video)

    def heads_at(self, channels):
        u = self.unet
        if u.get("headDim") is not None:
            return channels // u["headDim"], u["headDim"]
        return u["heads"], channels // u["heads"]

    def timestep_features(self, t, dim):
        half = dim // 2
        freqs = torch.tensor([math.exp(-math.log(10000) * i / half) for i in range(half)], dtype=torch.float32)
        args = t[:, None].float() * freqs[None, :]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # flip_sin_to_cos, shift 0

    def unet_forward(self, x, timesteps, context, fps):
        u = self.unet
        p = "unet."
        batch, _, frames, _, _ = x.shape
        mc = u["modelChannels"]

        def mlp(name, f):
            return self.linear(F.silu(self.linear(f, f"{p}{name}.0")), f"{p}{name}.2")

        emb = mlp("time_embed", self.timestep_features(timesteps, mc))
        if u["fpsCond"]:
            emb = emb + mlp("fps_embedding", self.timestep_features(torch.full((batch,), float(fps)), mc))
        emb = emb.repeat_interleave(frames, dim=0)
        context = context.repeat_interleave(frames, dim=0)

        def transformers_at(name, h, ds, channels):
            if ds not in u["attentionResolutions"]:
                return h
            heads, dim_head = self.heads_at(channels)
            h = self.spatial_transformer(h, f"{p}{name}.1", heads, dim_head, context)
            if u["temporalAttention"]:
                h = self.temporal_transformer(h, f"{p}{name}.2", heads, dim_head, u["temporalTransformerDepth"], batch)
            return h

        h = self.frames_first(x)
        h = self.conv2d(h, f"{p}input_blocks.0.0")
        if u["initAttention"]:
            ia = u["initAttention"]
            h = self.temporal_transformer(h, f"{p}init_attn.0", ia["heads"], ia["headDim"], u["transformerDepth"], batch)
        skips = [h]
        block, channels, ds = 0, mc, 1
        levels = len(u["channelMult"])
        for level, mult in enumerate(u["channelMult"]):
            for _ in range(u["numResBlocks"]):
                block += 1
                name = f"input_blocks.{block}"
                h = self.res_block(h, f"{p}{name}.0", mult * mc, emb, batch)
                channels = mult * mc
                h = transformers_at(name, h, ds, channels)
                skips.append(h)
            if level != levels - 1:
                block += 1
                h = self.conv2d(h, f"{p}input_blocks.{block}.0.op", stride=2)
                skips.append(h)
                ds *= 2

        heads, dim_head = self.heads_at(channels)
        h = self.res_block(h, f"{p}middle_block.0", channels, emb, batch)
        h = self.spatial_transformer(h, f"{p}middle_block.1", heads, dim_head, context)
        nxt = 2
        if u["temporalAttention"]:
            h = self.temporal_transformer(h, f"{p}middle_block.2", heads, dim_head, u["temporalTransformerDepth"], batch)
            nxt = 3
        h = self.res_block(h, f"{p}middle_block.{nxt}", channels, emb, batch)

        out_block = 0
        for level in range(levels - 1, -1, -1):
            mult = u["channelMult"][level]
            for i in range(u["numResBlocks"] + 1):
                name = f"output_blocks.{out_block}"
                out_block += 1
                h = torch.cat([h, skips.pop()], dim=1)
                h = self.res_block(h, f"{p}{name}.0", mult * mc, emb, batch)
                channels = mult * mc
                had = ds in u["attentionResolutions"]
                h = transformers_at(name, h, ds, channels)
                if level > 0 and i == u["numResBlocks"]:
                    index = (3 if u["temporalAttention"] else 2) if had else 1
                    h = F.interpolate(h, scale_factor=2, mode="nearest")
                    h = self.conv2d(h, f"{p}{name}.{index}.conv")
                    ds //= 2
        h = F.silu(self.group_norm(h, f"{p}out.0", u["normGroups"], 1e-5))
        h = self.conv2d(h, f"{p}out.2")
        return self.frames_back(h, batch)

    # ---------------------------------------------------------------- VAE decoder
    def vae_resnet(self, x, p, out):
        g = self.vae["normGroups"]
        h = self.conv2d(F.silu(self.group_norm(x, f"{p}.norm1", g, 1e-6)), f"{p}.conv1")
        h = self.conv2d(F.silu(self.group_norm(h, f"{p}.norm2", g, 1e-6)), f"{p}.conv2")
        skip = x if x.shape[1] == out else self.conv2d(x, f"{p}.nin_shortcut", padding=0)
        return skip + h

    def vae_attn(self, x, p):
        n, c, hh, ww = x.shape
        h = self.group_norm(x, f"{p}.norm", self.vae["normGroups"], 1e-6).permute(0, 2, 3, 1).reshape(n, hh * ww, c)
        q, k, v = (self.pointwise(h, f"{p}.{s}") for s in ("q", "k", "v"))
        scores = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(c))  # scaled after the product, as vplc
        o = self.pointwise(torch.softmax(scores, dim=-1) @ v, f"{p}.proj_out")
        return x + o.reshape(n, hh, ww, c).permute(0, 3, 1, 2)

    def vae_decode(self, z):
        v = self.vae
        p = "vae."
        if v["scaleFactor"] != 1:
            z = z * (1.0 / v["scaleFactor"])
        z = self.conv2d(z, f"{p}post_quant_conv", padding=0)
        d = f"{p}decoder."
        levels = len(v["chMult"])
        h = self.conv2d(z, f"{d}conv_in")
        ch = h.shape[1]
        h = self.vae_resnet(h, f"{d}mid.block_1", ch)
        h = self.vae_attn(h, f"{d}mid.attn_1")
        h = self.vae_resnet(h, f"{d}mid.block_2", ch)
        for level in range(levels - 1, -1, -1):
            for j in range(v["numResBlocks"] + 1):
                h = self.vae_resnet(h, f"{d}up.{level}.block.{j}", v["ch"] * v["chMult"][level])
            if level != 0:
                h = self.conv2d(F.interpolate(h, scale_factor=2, mode="nearest"), f"{d}up.{level}.upsample.conv")
        h = F.silu(self.group_norm(h, f"{d}norm_out", v["normGroups"], 1e-6))
        return self.conv2d(h, f"{d}conv_out")

    # ---------------------------------------------------------------- the step
    def loss(self, inp):
        """The train_step's forward: k DDIM steps with CFG, decode, brightness loss."""
        cfg = self.cfg
        x = inp["latents"]
        batch = x.shape[0]
        one = torch.tensor(1.0)
        eta = torch.tensor(float(cfg["eta"]))
        k = inp["timesteps"].shape[0]
        for i in range(k):
            t = inp["timesteps"][i]
            xs = torch.cat([x, x], dim=0)
            ctx = torch.cat([inp["uncond_context"], inp["context"]], dim=0)
            eps = self.unet_forward(xs, t.reshape(1).expand(2 * batch), ctx, cfg["fps"])
            eu, ec = eps[:batch], eps[batch:]
            eps = eu + cfg["guidance"] * (ec - eu)
            a_t, a_prev = inp["alphas_t"][i], inp["alphas_prev"][i]
            x0 = (x - torch.sqrt(one - a_t) * eps) / torch.sqrt(a_t)
            sigma = eta * torch.sqrt((one - a_prev) / (one - a_t) * (one - a_t / a_prev))
            dir_coef = torch.sqrt(torch.clamp(one - a_prev - sigma * sigma, min=0))
            x = torch.sqrt(a_prev) * x0 + dir_coef * eps + sigma * inp["noise"][i]
        picked = x[:, :, cfg["frame_indices"]]
        frames = self.vae_decode(self.frames_first(picked))
        unit = torch.clamp(frames * 0.5 + 0.5, 0, 1)
        luma = unit[:, 0:1] * 0.299 + unit[:, 1:2] * 0.587 + unit[:, 2:3] * 0.114
        r = luma.mean(dim=(1, 2, 3))
        return -r.mean() * cfg["reward_weight"], frames


def setup(directory):
    torch.set_num_threads(int(os.environ.get("VPLC_BENCH_THREADS", "2")))
    with open(f"{directory}/config.json") as f:
        cfg = json.load(f)
    weights = read_safetensors(f"{directory}/weights.safetensors")
    lora = [n for n in cfg["lora"]["names"]]
    for n in lora:
        weights[n].requires_grad_(True)
    model = Model(cfg, weights)
    inputs = read_safetensors(f"{directory}/inputs.safetensors")
    o = cfg["adamw"]
    params = [weights[n] for n in lora]
    opt = torch.optim.AdamW(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weightDecay"])
    return cfg, model, inputs, params, opt


def step(cfg, model, inputs, params, opt):
    opt.zero_grad(set_to_none=True)
    loss, frames = model.loss(inputs)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, cfg["clip"]) if cfg["clip"] > 0 else None
    opt.step()
    return loss, frames, norm


def crosscheck(directory):
    cfg, model, inputs, params, opt = setup(directory)
    out = {}
    for i in range(cfg["steps"]):
        if i == 0:
            opt.zero_grad(set_to_none=True)
            loss, frames = model.loss(inputs)
            loss.backward()
            for name, p in zip(cfg["lora"]["names"], params):
                out[f"grad.{name}"] = p.grad.detach().clone()
            norm = torch.nn.utils.clip_grad_norm_(params, cfg["clip"])
            for name, p in zip(cfg["lora"]["names"], params):
                out[f"clipped.{name}"] = p.grad.detach().clone()
            opt.step()
            out["frames"] = frames.detach()
            out["grad_norm"] = norm.detach().reshape([])
        else:
            loss, _, _ = step(cfg, model, inputs, params, opt)
        out[f"loss.{i}"] = loss.detach().reshape([])
    for name, p in zip(cfg["lora"]["names"], params):
        out[f"param.{name}"] = p.detach().clone()
    unused = sorted(set(model.W) - model.used)
    if unused:
        raise SystemExit(f"vplc wrote weights the torch model does not use: {unused[:10]} ({len(unused)})")
    write_safetensors(f"{directory}/torch.safetensors", out)


def serve(directory, warmup):
    cfg, model, inputs, params, opt = setup(directory)
    for _ in range(warmup):
        step(cfg, model, inputs, params, opt)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        times = []
        for _ in range(int(line)):
            t0 = time.perf_counter()
            step(cfg, model, inputs, params, opt)
            times.append(time.perf_counter() - t0)
        print(json.dumps({"median_s": statistics.median(times), "min_s": min(times), "times_s": times}), flush=True)


def memory(directory, steps):
    after_setup = vm_hwm()
    cfg, model, inputs, params, opt = setup(directory)
    after_load = vm_hwm()
    t0 = time.perf_counter()
    for _ in range(steps):
        step(cfg, model, inputs, params, opt)
    print(json.dumps({"hwm_import": after_setup, "hwm_setup": after_load, "hwm": vm_hwm(), "seconds_per_step": (time.perf_counter() - t0) / steps}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "crosscheck":
        crosscheck(sys.argv[2])
    elif cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif cmd == "memory":
        memory(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {cmd}")
