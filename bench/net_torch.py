"""The PyTorch twin of bench/net.ts: the same conv + attention network, the same training step.

Used by bench/crosscheck.ts (loss, gradients, weights after AdamW steps) and bench/train_step.ts
(eager timing). Weights, inputs and the configuration come from files vplc wrote; results go
back as safetensors. Reads and writes safetensors itself (no `safetensors` package needed).

  /usr/bin/python3 bench/net_torch.py crosscheck DIR   # DIR/{config.json,weights,inputs}.safetensors -> DIR/torch.safetensors
  /usr/bin/python3 bench/net_torch.py time DIR N WARMUP  # prints one JSON line with the step times
  /usr/bin/python3 bench/net_torch.py serve DIR WARMUP   # then one line "N" per round on stdin -> one JSON line per round
"""
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        start, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(blob[base + start : base + end]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header)
    text += " " * ((8 - (len(text.encode()) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text.encode())))
        f.write(text.encode())
        for c in chunks:
            f.write(c)


def attention_module(c):
    """to_q/to_k/to_v without bias, to_out.0 with (the LDM / diffusers keys)."""
    attn = torch.nn.Module()
    attn.to_q = torch.nn.Linear(c, c, bias=False)
    attn.to_k = torch.nn.Linear(c, c, bias=False)
    attn.to_v = torch.nn.Linear(c, c, bias=False)
    attn.to_out = torch.nn.Sequential(torch.nn.Linear(c, c))
    return attn


def feed_forward(c, m):
    """LDM's FeedForward(glu=False): keys net.0.0 and net.2; exact (erf) GELU."""
    return torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(c, m), torch.nn.GELU()), torch.nn.Dropout(0.0), torch.nn.Linear(m, c))


class Net(torch.nn.Module):
    """conv3x3 -> GroupNorm -> SiLU -> conv3x3 -> tokens -> LayerNorm -> MHA -> residual -> GELU MLP."""

    def __init__(self, cfg):
        super().__init__()
        c, m = cfg["channels"], cfg["mlp"]
        self.heads = cfg["heads"]
        self.conv1 = torch.nn.Conv2d(cfg["inChannels"], c, 3, padding=1)
        self.norm1 = torch.nn.GroupNorm(cfg["groups"], c, eps=1e-5)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1)
        self.norm2 = torch.nn.LayerNorm(c, eps=1e-5)
        self.attn = attention_module(c)
        self.mlp = torch.nn.Module()
        self.mlp.net = feed_forward(c, m)
        # extra transformer blocks (bench/net.ts DEEP): keys blocks.<i>.norm, blocks.<i>.attn.*, blocks.<i>.mlp.net.*
        self.blocks = torch.nn.ModuleDict()
        for i in range(1, cfg.get("extraBlocks", 0) + 1):
            blk = torch.nn.Module()
            blk.norm = torch.nn.LayerNorm(c, eps=1e-5)
            blk.attn = attention_module(c)
            blk.mlp = torch.nn.Module()
            blk.mlp.net = feed_forward(c, m)
            self.blocks[str(i)] = blk

    def attend(self, attn, n, b, tokens, c):
        heads, d = self.heads, c // self.heads

        def split(z):
            return z.reshape(b, tokens, heads, d).transpose(1, 2)  # [B, H, T, D]

        q = split(attn.to_q(n) * (1.0 / math.sqrt(d)))  # scaled before the product, as vplc does
        k, v = split(attn.to_k(n)), split(attn.to_v(n))
        p = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        return attn.to_out((p @ v).transpose(1, 2).reshape(b, tokens, c))

    def forward(self, x):
        h = self.conv1(x)
        h = F.silu(self.norm1(h))
        h = self.conv2(h)
        b, c, hh, ww = h.shape
        t = h.reshape(b, c, hh * ww).transpose(1, 2)  # [B, T, C]
        t = t + self.attend(self.attn, self.norm2(t), b, hh * ww, c)
        for blk in self.blocks.values():
            t = t + self.attend(blk.attn, blk.norm(t), b, hh * ww, c)
            t = t + blk.mlp.net(t)
        return self.mlp.net(t)


def setup(directory):
    # 2 threads like the ORT side (bench/train_step.ts may ask for another count to match its own)
    torch.set_num_threads(int(os.environ.get("VPLC_BENCH_THREADS", "2")))
    with open(f"{directory}/config.json") as f:
        cfg = json.load(f)
    net = Net(cfg["net"])
    weights = read_safetensors(f"{directory}/weights.safetensors")
    own = dict(net.named_parameters())
    missing = set(own) ^ set(weights)
    if missing:
        raise SystemExit(f"weight names differ between vplc and torch: {sorted(missing)}")
    net.load_state_dict(weights, strict=True)
    inputs = read_safetensors(f"{directory}/inputs.safetensors")
    o = cfg["adamw"]
    opt = torch.optim.AdamW(net.parameters(), lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weightDecay"])
    return cfg, net, inputs, opt


def step(net, opt, x, target):
    opt.zero_grad(set_to_none=True)
    loss = F.mse_loss(net(x), target)
    loss.backward()
    opt.step()
    return loss


def crosscheck(directory):
    cfg, net, inputs, opt = setup(directory)
    x, target = inputs["x"], inputs["target"]
    out = {}
    loss = F.mse_loss(net(x), target)
    loss.backward()
    out["loss"] = loss.detach().reshape([])
    for name, p in net.named_parameters():
        out[f"grad.{name}"] = p.grad.detach().clone()
    opt.zero_grad(set_to_none=True)
    for i in range(cfg["steps"]):
        out[f"loss.{i}"] = step(net, opt, x, target).detach().reshape([])
    for name, p in net.named_parameters():
        out[f"param.{name}"] = p.detach().clone()
    write_safetensors(f"{directory}/torch.safetensors", out)


def timing(directory, iters, warmup):
    cfg, net, inputs, opt = setup(directory)
    x, target = inputs["x"], inputs["target"]
    for _ in range(warmup):
        step(net, opt, x, target)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step(net, opt, x, target)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"median_s": statistics.median(times), "min_s": min(times), "times_s": times, "torch": torch.__version__, "threads": torch.get_num_threads()}))


def serve(directory, warmup):
    """Warm up once, then time N steps per request line: lets the caller interleave rounds with its own."""
    cfg, net, inputs, opt = setup(directory)
    x, target = inputs["x"], inputs["target"]
    for _ in range(warmup):
        step(net, opt, x, target)
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        times = []
        for _ in range(int(line)):
            t0 = time.perf_counter()
            step(net, opt, x, target)
            times.append(time.perf_counter() - t0)
        print(json.dumps({"median_s": statistics.median(times), "min_s": min(times), "times_s": times}), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "crosscheck":
        crosscheck(sys.argv[2])
    elif cmd == "time":
        timing(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {cmd}")
