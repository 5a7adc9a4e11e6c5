"""The PyTorch side of bench/parity.ts.

  /usr/bin/python3 bench/twins/cli.py synth --size reduced|full --out FILE [--seed 0]
  /usr/bin/python3 bench/twins/cli.py forward --net unet|vae|text --size S --ckpt FILE --inputs FILE --out FILE [--threads 2]

`forward` first checks names: every key the twin declares must be in the checkpoint with its
shape, and the checkpoint may hold no other key under the network's prefix except the
documented extras (IGNORED of each module; vae: encoder.*, quant_conv.*); keys outside the
prefix (other networks, DDPM schedule buffers) are not this network's. After the forward pass
it checks that it read every key it declared except those its module lists in unread(cfg)
(text: text_projection, logit_scale, and the last resblock under layer 'penultimate'). Exit 1
on any problem. Prints one
JSON line: parameters, seconds to map the file and to run, VmHWM.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import openclip_text  # noqa: E402
import synthetic  # noqa: E402
import unet3d  # noqa: E402
import vae  # noqa: E402
from configs import PREFIX, configs  # noqa: E402
from layers import Weights, check_names  # noqa: E402
from st import LazyFile, read_all, write_all  # noqa: E402


def vm_hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return float("nan")


NETS = {"unet": unet3d, "vae": vae, "text": openclip_text}


def forward(args):
    torch.set_num_threads(args.threads)
    cfg = configs(args.size)[args.net]
    prefix = PREFIX[args.net]
    net = NETS[args.net]
    t0 = time.perf_counter()
    ckpt = LazyFile(args.ckpt)
    spec = net.spec(cfg, prefix)
    problems = check_names(spec, ckpt, tuple(prefix + p for p in net.IGNORED))
    if problems:
        raise SystemExit(f"{args.ckpt}: {len(problems)} name problem(s) for the {args.net} twin:\n  " + "\n  ".join(problems[:40]))
    inputs = read_all(args.inputs)
    W = Weights(ckpt, prefix)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    with torch.no_grad():
        if args.net == "unet":
            fps = int(inputs["fps"].item())
            out = unet3d.forward(W, cfg, inputs["x"], inputs["timesteps"].long(), inputs["context"], fps)
        elif args.net == "vae":
            out = vae.decode(W, cfg, inputs["z"])
        else:
            out = openclip_text.encode(W, cfg, inputs["tokens"])
    forward_s = time.perf_counter() - t1
    allowed = tuple(prefix + p for p in net.unread(cfg))
    unread = sorted(k for k in set(spec.entries) - W.used if not k.startswith(allowed))
    if unread:
        raise SystemExit(f"the {args.net} twin declared keys its forward never read: {unread[:10]} ({len(unread)})")
    write_all(args.out, {"out": out.contiguous()})
    params = sum(math.prod(shape) for shape, _ in spec.entries.values())
    print(json.dumps({"net": args.net, "params": params, "keys": len(spec.entries), "load_s": load_s, "forward_s": forward_s, "vmhwm": vm_hwm(), "shape": list(out.shape), "torch": torch.__version__, "threads": torch.get_num_threads()}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synth")
    s.add_argument("--size", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    f = sub.add_parser("forward")
    f.add_argument("--net", required=True, choices=sorted(NETS))
    f.add_argument("--size", required=True)
    f.add_argument("--ckpt", required=True)
    f.add_argument("--inputs", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "synth":
        t0 = time.perf_counter()
        n = synthetic.write(args.size, args.out, args.seed)
        print(json.dumps({"keys": n, "bytes": os.path.getsize(args.out), "seconds": time.perf_counter() - t0}))
    else:
        forward(args)


if __name__ == "__main__":
    main()
