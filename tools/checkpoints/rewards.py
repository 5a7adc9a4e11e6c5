#!/usr/bin/python3
"""Writes a synthetic reward folder in the files users download for it: the real file names, key
names and shapes, seeded random values. One module per network (REWARDS below).

    /usr/bin/python3 tools/checkpoints/rewards.py --reward pickscore --size reduced --out /tmp/rewards/pickscore
    /usr/bin/python3 tools/checkpoints/rewards.py --reward aesthetic --size full --out checkpoints/rewards/aesthetic

stdout: one JSON line naming the files. Needs numpy and torch (Debian's python3-torch).
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import actpred_files  # noqa: E402
import clip_reward_files  # noqa: E402
import viclip_files  # noqa: E402


def _clip(reward):
    return lambda size, out, seed, **kw: clip_reward_files.write(reward, size, out, seed, **kw)


REWARDS = {
    "pickscore": _clip("pickscore"),
    "hps": _clip("hps"),
    "aesthetic": _clip("aesthetic"),
    "actpred": lambda size, out, seed, **kw: actpred_files.write(size, out, seed, **kw),
    "viclip": lambda size, out, seed, **kw: viclip_files.write(size, out, seed),
}


def main(argv=None):
    p = argparse.ArgumentParser(description="Synthetic reward network folders (real layout, random values).")
    p.add_argument("--reward", required=True, choices=sorted(REWARDS))
    p.add_argument("--size", required=True, choices=["reduced", "full"])
    p.add_argument("--out", required=True, help="the folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default="safetensors", choices=["safetensors", "bin"], help="transformers files as model.safetensors or pytorch_model.bin")
    p.add_argument("--rename", help="OLD=NEW (CLIP rewards): write one key under another name (a broken file, for tests)")
    args = p.parse_args(argv)
    extra = {}
    if args.format != "safetensors":
        extra["fmt"] = args.format
    if args.rename:
        extra["rename"] = tuple(args.rename.split("=", 1))
    files = REWARDS[args.reward](args.size, args.out, args.seed, **extra)
    sys.stdout.write(json.dumps({"reward": args.reward, "size": args.size, "seed": args.seed, "files": files}) + "\n")


if __name__ == "__main__":
    main()
