#!/usr/bin/python3
"""PyTorch twin of T2V-Turbo's ViCLIP video-text reward, over the user's folder
(ViClip-InternVid-10M-FLT.pth), written from the reference, not from vplc's graph:

- Ji4chenLi/t2v-turbo reward_fn/reward_fn.py get_vi_clip_score_fn: ResizeCropMinSize(224)
  (scale = 224 / short side, each side round(side * scale), torchvision F.resize bicubic, which
  for tensors is F.interpolate(align_corners=False, antialias=True), then RandomCrop(224)),
  ViCLIP_NORMALIZE (ImageNet mean/std), get_vid_feat_with_grad (normalised video feature),
  encode_text normalised, score = sum(video * text);
- train_t2v_turbo_vc2.py: skip = T // n, idx = arange(start, T, skip)[:n] (start random in
  [0, skip));
- viclip/viclip.py encode_vision ([B, T, C, H, W] -> [B, C, T, H, W]; a 4-d image gets T = 1),
  viclip_vision.py VisionTransformer.forward, viclip_text.py CLIP_TEXT.forward.

Two choices where the reference draws at random, the same as vplc's graph: start = 0, and the
crop at the centre ((resized - 224) // 2). Where the short side is already 224 the reference
skips the crop (and its ViT then cannot take a non-square frame); the twin crops.

    /usr/bin/python3 bench/twins/viclip.py --dir FOLDER --video in.safetensors --out out.safetensors
        [--size full|reduced] [--frames 8] [--frames-per-video T] [--threads 2]

in.safetensors: `frames` [videos * T, 3, H, W] float32 in [-1, 1], `tokens` [videos, 32] int64.
out.safetensors: `pixels` [videos * n, 3, 224, 224] (the network's input), `video_embed`
[videos, E] (normalised), `text_embed` [videos, E] (not normalised), `score` [videos],
`image_embed` [videos * T, E] (each decoded frame as a one-frame clip, normalised).
Prints one JSON line (sizes, seconds, VmHWM). Exit 1 on a name problem.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from layers import Spec, Weights, layer_norm, linear  # noqa: E402
from st import read_all, write_all  # noqa: E402

WEIGHTS_FILE = "ViClip-InternVid-10M-FLT.pth"
IGNORED = ("temp",)  # the contrastive temperature: in the file, not on the score's path
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# clip_joint_l14 / clip_text_l14 at max_txt_l 32; reduced: the same keys 64 wide (tools/checkpoints/viclip_files.py)
SIZES = {
    "full": {"vision": (1024, 24, 16), "text": (768, 12, 12), "embed": 768},
    "reduced": {"vision": (64, 2, 2), "text": (64, 2, 2), "embed": 64},
}
IMAGE, PATCH, FRAMES, CONTEXT, VOCAB = 224, 14, 8, 32, 49408


def spec(size):
    c = SIZES[size]
    s = Spec("")
    w, layers, _ = c["vision"]
    grid = IMAGE // PATCH
    s.add("vision_encoder.class_embedding", [w], None)
    s.add("vision_encoder.positional_embedding", [grid * grid + 1, w], None)
    s.add("vision_encoder.temporal_positional_embedding", [1, FRAMES, w], None)
    s.add("vision_encoder.proj", [w, c["embed"]], None)
    s.add("vision_encoder.conv1.weight", [w, 3, 1, PATCH, PATCH], None)
    s.norm("vision_encoder.ln_pre", w)
    for i in range(layers):
        block(s, f"vision_encoder.transformer.resblocks.{i}", w)
    s.norm("vision_encoder.ln_post", w)
    w, layers, _ = c["text"]
    s.add("text_encoder.positional_embedding", [CONTEXT, w], None)
    s.add("text_encoder.text_projection", [w, c["embed"]], None)
    for i in range(layers):
        block(s, f"text_encoder.transformer.resblocks.{i}", w)
    s.add("text_encoder.token_embedding.weight", [VOCAB, w], None)
    s.norm("text_encoder.ln_final", w)
    return s


def block(s, p, w):
    s.add(f"{p}.attn.in_proj_weight", [3 * w, w], None)
    s.add(f"{p}.attn.in_proj_bias", [3 * w], None)
    s.linear(f"{p}.attn.out_proj", w, w)
    s.norm(f"{p}.ln_1", w)
    s.linear(f"{p}.mlp.c_fc", w, 4 * w)
    s.linear(f"{p}.mlp.c_proj", 4 * w, w)
    s.norm(f"{p}.ln_2", w)


def check(s, sd):
    problems = []
    for key, (shape, _) in s.entries.items():
        if key not in sd:
            problems.append(f"missing: {key} {shape}")
        elif list(sd[key].shape) != shape:
            problems.append(f"shape: {key} is {list(sd[key].shape)}, the twin wants {shape}")
    problems += [f"unexpected: {k}" for k in sd if k not in s.entries and k not in IGNORED]
    return problems


# ------------------------------------------------------------------ the towers

def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def resblock(W, p, x, width, heads, mask):
    """ResidualAttentionBlock on LND (nn.MultiheadAttention, batch_first=False), eval mode."""
    h = layer_norm(W, f"{p}.ln_1", x)
    a, _ = F.multi_head_attention_forward(
        h, h, h, width, heads, W(f"{p}.attn.in_proj_weight"), W(f"{p}.attn.in_proj_bias"),
        None, None, False, 0.0, W(f"{p}.attn.out_proj.weight"), W(f"{p}.attn.out_proj.bias"),
        training=False, need_weights=False, attn_mask=mask,
    )
    x = x + a
    return x + linear(W, f"{p}.mlp.c_proj", quick_gelu(linear(W, f"{p}.mlp.c_fc", layer_norm(W, f"{p}.ln_2", x))))


def encode_vision(W, size, video):
    """video [B, T, 3, 224, 224] -> the projected class token [B, E] (VisionTransformer.forward)."""
    width, layers, heads = SIZES[size]["vision"]
    x = F.conv3d(video.permute(0, 2, 1, 3, 4), W("conv1.weight"), None, stride=(1, PATCH, PATCH))
    B, C, T, H, Wd = x.shape
    x = x.permute(0, 2, 3, 4, 1).reshape(B * T, H * Wd, C)
    cls = W("class_embedding") + torch.zeros(x.shape[0], 1, C)
    x = torch.cat([cls, x], dim=1) + W("positional_embedding")
    cls_tokens = x[:B, :1, :]
    x = x[:, 1:]
    n = x.shape[1]
    x = x.reshape(B, T, n, C).permute(0, 2, 1, 3).reshape(B * n, T, C)  # (b t) n m -> (b n) t m
    temporal = W("temporal_positional_embedding")
    x = x + (temporal.mean(1) if T == 1 else temporal)
    x = x.reshape(B, n, T, C).reshape(B, n * T, C)  # (b n) t m -> b (n t) m
    x = layer_norm(W, "ln_pre", torch.cat((cls_tokens, x), dim=1)).permute(1, 0, 2)
    for i in range(layers):
        x = resblock(W, f"transformer.resblocks.{i}", x, width, heads, None)
    return layer_norm(W, "ln_post", x)[0] @ W("proj")


def encode_text(W, size, tokens):
    width, layers, heads = SIZES[size]["text"]
    n = tokens.shape[1]
    mask = torch.empty(n, n).fill_(float("-inf")).triu_(1)
    x = (F.embedding(tokens, W("token_embedding.weight")) + W("positional_embedding")).permute(1, 0, 2)
    for i in range(layers):
        x = resblock(W, f"transformer.resblocks.{i}", x, width, heads, mask)
    x = layer_norm(W, "ln_final", x.permute(1, 0, 2))
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ W("text_projection")


# ------------------------------------------------------------------ the reward

def preprocess(frames):
    """[N, 3, H, W] in [-1, 1] -> [N, 3, 224, 224]: unit range, ResizeCropMinSize (centre crop), ImageNet norm."""
    x = (frames / 2 + 0.5).clamp(0, 1)
    h, w = x.shape[-2:]
    scale = IMAGE / float(min(h, w))
    if scale != 1.0:
        x = F.interpolate(x, size=tuple(round(d * scale) for d in (h, w)), mode="bicubic", align_corners=False, antialias=True)
    top, left = (x.shape[-2] - IMAGE) // 2, (x.shape[-1] - IMAGE) // 2
    x = x[..., top:top + IMAGE, left:left + IMAGE]
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def frame_indices(t, n):
    if t < n:
        raise SystemExit(f"viclip twin: {n} frames asked of videos of {t}")
    skip = t // n
    return torch.arange(0, t, skip)[:n]


def normalise(x):
    return x / x.norm(dim=-1, keepdim=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--video", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", choices=sorted(SIZES), help="default: the one whose vision width the file has")
    ap.add_argument("--frames", type=int, default=FRAMES)
    ap.add_argument("--frames-per-video", type=int)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    sd = torch.load(os.path.join(args.dir, WEIGHTS_FILE), map_location="cpu")["model"]
    size = args.size or next(k for k, c in SIZES.items() if c["vision"][0] == sd["vision_encoder.class_embedding"].shape[0])
    s = spec(size)
    problems = check(s, sd)
    if problems:
        raise SystemExit(f"{args.dir}: {len(problems)} name problem(s) for the ViCLIP twin:\n  " + "\n  ".join(problems[:40]))
    inputs = read_all(args.video)
    frames, tokens = inputs["frames"].float(), inputs["tokens"].long()
    videos = tokens.shape[0]
    t = args.frames_per_video or frames.shape[0] // videos
    if frames.shape[0] != videos * t:
        raise SystemExit(f"viclip twin: {frames.shape[0]} frames are not {videos} videos of {t}")
    load_s = time.perf_counter() - t0
    W = Weights(sd)
    t1 = time.perf_counter()
    with torch.no_grad():
        idx = frame_indices(t, args.frames)
        picked = frames.reshape(videos, t, *frames.shape[1:])[:, idx].reshape(videos * args.frames, *frames.shape[1:])
        pixels = preprocess(picked)
        video = normalise(encode_vision(W.at("vision_encoder."), size, pixels.reshape(videos, args.frames, 3, IMAGE, IMAGE)).float())
        text = encode_text(W.at("text_encoder."), size, tokens)
        score = (video * normalise(text)).sum(-1)
        image = normalise(encode_vision(W.at("vision_encoder."), size, preprocess(frames).unsqueeze(1)))
    forward_s = time.perf_counter() - t1
    unread = sorted(set(s.entries) - W.used)
    if unread:
        raise SystemExit(f"the ViCLIP twin declared keys its forward never read: {unread[:10]}")
    write_all(args.out, {"pixels": pixels.contiguous(), "video_embed": video.contiguous(), "text_embed": text.contiguous(), "score": score.contiguous(), "image_embed": image.contiguous()})
    with open("/proc/self/status") as f:
        hwm = next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")), float("nan"))
    params = sum(math.prod(shape) for shape, _ in s.entries.values())
    print(json.dumps({"net": "viclip", "size": size, "params": params, "keys": len(s.entries), "indices": idx.tolist(), "load_s": load_s, "forward_s": forward_s, "vmhwm": hwm, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
