"""PyTorch twin of vplc's actpred reward, written from the architecture (not from vplc's graph).

  /usr/bin/python3 bench/twins/actpred.py --dir FOLDER --video in.safetensors --out out.safetensors \
      [--frames-per-video T] [--threads 2]

FOLDER is a VideoMAEForVideoClassification folder (config.json + model.safetensors or
pytorch_model.bin). in.safetensors holds `frames` [videos * T, 3, H, W] float32 in [-1, 1],
video-major, and `label` [videos] int64; T defaults to N / videos. out.safetensors gets
`pixel_values` [videos, T, 3, 224, 224], `pooled` [videos, hidden] (fc_norm of the token mean),
`logits` [videos, classes] and `score` [videos] = -cross_entropy(logits, label).

The steps, from their public sources:
- mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py actpred_loss_fn: per frame
  (x / 2 + 0.5).clamp(0, 1), torchvision Resize((224, 224), antialias=True) (on tensors:
  F.interpolate bilinear, align_corners False, antialias), Normalize(ImageNet mean, std); frames
  stacked into [1, T, 3, 224, 224]. Core/actpred_scorer.py: outputs.loss with labels = [class].
- huggingface/transformers src/transformers/models/videomae/modeling_videomae.py: Conv3d tubelet
  embedding on the [B, 3, T, H, W] permutation, plus the sine-cosine table for T / tubelet * 196
  patches; pre-LN layers (layer_norm_eps) with query/key/value (q_bias, v_bias; the key has a zero
  bias), exact gelu; mean over tokens, fc_norm (LayerNorm's default eps 1e-5), classifier.

Checks names first: every key the twin reads must be in the file with its shape and the file may
hold no other key; exit 1 otherwise. Prints one JSON line (timings, VmHWM).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from st import LazyFile, read_all, write_all  # noqa: E402

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE = 224


def open_weights(folder):
    st = os.path.join(folder, "model.safetensors")
    if os.path.exists(st):
        return LazyFile(st)
    return torch.load(os.path.join(folder, "pytorch_model.bin"), map_location="cpu")


def shape_of(weights, key):
    return weights.shape(key) if isinstance(weights, LazyFile) else list(weights[key].shape)


def expected_keys(cfg, classes):
    """key -> shape of the state dict of VideoMAEForVideoClassification at `cfg`."""
    h, m, t, p, c = cfg["hidden_size"], cfg["intermediate_size"], cfg["tubelet_size"], cfg["patch_size"], cfg["num_channels"]
    keys = {
        "videomae.embeddings.patch_embeddings.projection.weight": [h, c, t, p, p],
        "videomae.embeddings.patch_embeddings.projection.bias": [h],
        "fc_norm.weight": [h],
        "fc_norm.bias": [h],
        "classifier.weight": [classes, h],
        "classifier.bias": [classes],
    }
    for i in range(cfg["num_hidden_layers"]):
        pre = f"videomae.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            keys[f"{pre}attention.attention.{name}.weight"] = [h, h]
        if cfg.get("qkv_bias", True):
            keys[f"{pre}attention.attention.q_bias"] = [h]
            keys[f"{pre}attention.attention.v_bias"] = [h]
        for name, shape in (("attention.output.dense", [h, h]), ("intermediate.dense", [m, h]), ("output.dense", [h, m])):
            keys[f"{pre}{name}.weight"] = shape
            keys[f"{pre}{name}.bias"] = [shape[0]]
        for name in ("layernorm_before", "layernorm_after"):
            keys[f"{pre}{name}.weight"] = [h]
            keys[f"{pre}{name}.bias"] = [h]
    return keys


def check_names(weights, expected):
    present = set(weights.keys())
    problems = [f"missing {k} {s}" for k, s in expected.items() if k not in present]
    problems += [f"{k}: shape {shape_of(weights, k)}, expected {s}" for k, s in expected.items() if k in present and shape_of(weights, k) != s]
    problems += [f"unexpected {k}" for k in sorted(present - set(expected))]
    return problems


def sinusoid_table(positions, width):
    """The fixed position table: sin on even features, cos on odd, of p / 10000^(2 (j // 2) / width)."""
    j = np.arange(width)
    angles = np.arange(positions)[:, None] / np.power(10000, 2 * (j // 2) / width)[None, :]
    table = np.where(j % 2 == 0, np.sin(angles), np.cos(angles))
    return torch.from_numpy(table.astype(np.float32))


def preprocess(frames):
    """[N, 3, H, W] in [-1, 1] -> [N, 3, 224, 224]: unit range, antialiased bilinear squash, ImageNet norm."""
    x = (frames / 2 + 0.5).clamp(0, 1)
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def videomae(W, cfg, pixel_values):
    """pixel_values [B, T, 3, S, S] -> (pooled [B, hidden], logits [B, classes])."""
    h, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    t, p = cfg["tubelet_size"], cfg["patch_size"]
    pre = "videomae.embeddings.patch_embeddings.projection."
    x = F.conv3d(pixel_values.permute(0, 2, 1, 3, 4), W[pre + "weight"], W[pre + "bias"], stride=(t, p, p))
    x = x.flatten(2).transpose(1, 2)  # [B, patches, hidden] in (t, row, column) order
    batch, length, _ = x.shape
    x = x + sinusoid_table(length, h)[None]
    d = h // heads
    for i in range(cfg["num_hidden_layers"]):
        L = f"videomae.encoder.layer.{i}."
        a = f"{L}attention.attention."
        y = F.layer_norm(x, (h,), W[L + "layernorm_before.weight"], W[L + "layernorm_before.bias"], eps)
        q_bias = W.get(a + "q_bias")
        v_bias = W.get(a + "v_bias")
        q = F.linear(y, W[a + "query.weight"], q_bias)
        k = F.linear(y, W[a + "key.weight"])
        v = F.linear(y, W[a + "value.weight"], v_bias)
        split = lambda z: z.view(batch, length, heads, d).transpose(1, 2)  # noqa: E731
        probs = torch.softmax(split(q) @ split(k).transpose(-1, -2) * d ** -0.5, dim=-1)
        context = (probs @ split(v)).transpose(1, 2).reshape(batch, length, h)
        x = x + F.linear(context, W[L + "attention.output.dense.weight"], W[L + "attention.output.dense.bias"])
        y = F.layer_norm(x, (h,), W[L + "layernorm_after.weight"], W[L + "layernorm_after.bias"], eps)
        y = F.gelu(F.linear(y, W[L + "intermediate.dense.weight"], W[L + "intermediate.dense.bias"]))
        x = x + F.linear(y, W[L + "output.dense.weight"], W[L + "output.dense.bias"])
    pooled = F.layer_norm(x.mean(1), (h,), W["fc_norm.weight"], W["fc_norm.bias"], 1e-5)
    return pooled, F.linear(pooled, W["classifier.weight"], W["classifier.bias"])


class Reader(dict):
    """Weights read on first use, as float32; remembers what was read."""

    def __init__(self, weights):
        super().__init__()
        self.weights = weights
        self.used = set()

    def __missing__(self, key):
        self.used.add(key)
        value = self.weights[key].float()
        self[key] = value
        return value

    def get(self, key, default=None):
        return self[key] if key in self.weights.keys() else default


def vm_hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--video", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--frames-per-video", type=int)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.dir, "config.json")) as f:
        cfg = json.load(f)
    classes = len(cfg["id2label"])
    t0 = time.perf_counter()
    weights = open_weights(args.dir)
    problems = check_names(weights, expected_keys(cfg, classes))
    if problems:
        raise SystemExit(f"{args.dir}: {len(problems)} name problem(s) for the actpred twin:\n  " + "\n  ".join(problems[:40]))
    inputs = read_all(args.video)
    frames, label = inputs["frames"].float(), inputs["label"].long()
    videos = label.shape[0]
    per_video = args.frames_per_video or frames.shape[0] // videos
    if per_video * videos != frames.shape[0] or per_video % cfg["tubelet_size"] != 0:
        raise SystemExit(f"{frames.shape[0]} frames do not make {videos} videos of whole tubelets ({per_video} frames each)")
    W = Reader(weights)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    with torch.no_grad():
        pixel_values = preprocess(frames).view(videos, per_video, 3, SIZE, SIZE)
        pooled, logits = videomae(W, cfg, pixel_values)
        score = -F.cross_entropy(logits, label, reduction="none")
    forward_s = time.perf_counter() - t1
    unread = sorted(set(weights.keys()) - W.used)
    if unread:
        raise SystemExit(f"the actpred twin never read {unread[:10]} ({len(unread)})")
    write_all(args.out, {"pixel_values": pixel_values.contiguous(), "pooled": pooled.contiguous(), "logits": logits.contiguous(), "score": score.contiguous()})
    params = sum(int(np.prod(shape_of(weights, k))) for k in weights.keys())
    print(json.dumps({"net": "actpred", "params": params, "videos": videos, "frames_per_video": per_video, "load_s": load_s, "forward_s": forward_s, "vmhwm": vm_hwm(), "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
