#!/usr/bin/python3
"""Writes synthetic checkpoints in the real layouts: the real key names and shapes, seeded random
values. See README.md in this folder.

    /usr/bin/python3 tools/checkpoints/synthetic.py --layout videocrafter2-ckpt --size reduced \
        --out /tmp/vc2/base_512_v2/model.ckpt
    /usr/bin/python3 tools/checkpoints/synthetic.py --layout modelscope-diffusers --size full \
        --dtype fp16 --out /tmp/text-to-video-ms-1.7b
    /usr/bin/python3 tools/checkpoints/synthetic.py --layout modelscope-diffusers --size reduced --manifest

stdout: the manifest as JSON lines ({"key", "shape", "dtype", "file", "component"}) with
--manifest; otherwise one JSON summary line (files, bytes, tensor counts). Progress goes to
stderr, a line per component. --checksums PATH writes, per key, the sum, absolute sum and first
elements of the values as stored, for comparing a reader's view with the writer's.
Writing needs numpy; the .ckpt layout also needs torch (Debian's python3-torch).
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from layouts import LAYOUTS, ms_config_files, vc2_hyper_parameters, weights_files  # noqa: E402
from manifest import numel  # noqa: E402
from values import BYTES, CLI_DTYPES, Source, as_float64, stored_dtype  # noqa: E402
import configs  # noqa: E402
import tokenizer_files  # noqa: E402

FIRST = 4  # elements recorded per tensor in --checksums


def _file_name(path: str, variant) -> str:
    if not variant:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.{variant}{ext}"  # diffusers' variant naming: model.fp16.safetensors


def selected_files(layout: str, size: str, only):
    """The layout's weights files, keeping only the components named in `only` (all when None)."""
    out = []
    for wf in weights_files(layout, size):
        comps = [c for c in wf.components if only is None or c.name in only]
        if comps:
            out.append(wf._replace(components=comps))
    return out


def print_manifest(layout: str, size: str, dtype: str, variant, only) -> None:
    for wf in selected_files(layout, size, only):
        for comp in wf.components:
            for e in comp.entries:
                row = {"key": e.key, "shape": list(e.shape), "dtype": stored_dtype(e, dtype), "component": comp.name}
                if wf.path:
                    row["file"] = _file_name(wf.path, variant)
                sys.stdout.write(json.dumps(row) + "\n")


class Checksums:
    def __init__(self):
        self.rows = {}

    def __call__(self, entry, kind, array) -> None:
        wide = as_float64(array, kind).reshape(-1)
        self.rows[entry.key] = {
            "dtype": kind,
            "shape": list(entry.shape),
            "sum": float(wide.sum()),
            "abs_sum": float(abs(wide).sum()),
            "first": [float(v) for v in wide[:FIRST]],
        }


def _progress(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _component_report(comp, source) -> str:
    nbytes = sum(numel(e.shape) * BYTES[source.kind(e)] for e in comp.entries)
    params = sum(numel(e.shape) for e in comp.entries)
    return f"  {comp.name}: {len(comp.entries)} tensors, {params:,} elements, {nbytes:,} bytes"


def write_vc2(args, source, on_tensor):
    (wf,) = selected_files(args.layout, args.size, args.only)
    entries = [e for comp in wf.components for e in comp.entries]
    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    for comp in wf.components:
        _progress(_component_report(comp, source))
    if args.layout == "videocrafter2-ckpt":
        import torch_ckpt  # torch only here

        _progress(f"building the state dict ({len(entries)} tensors) ...")
        sd = torch_ckpt.state_dict(entries, source, on_tensor)
        _progress(f"torch.save -> {args.out}" + (" (legacy format)" if args.legacy_pickle else ""))
        torch_ckpt.save(args.out, torch_ckpt.lightning_checkpoint(sd, vc2_hyper_parameters(args.size)), legacy=args.legacy_pickle)
        size = os.path.getsize(args.out)
    else:
        import safetensors_writer

        _progress(f"writing {args.out} ...")
        size = safetensors_writer.write(args.out, entries, source, None, on_tensor)
    files = [{"path": args.out, "bytes": size, "tensors": len(entries)}]
    if args.with_tokenizer:
        path = tokenizer_files.write_open_clip(folder, tokenizer_files.padded_merges())
        files.append({"path": path, "bytes": os.path.getsize(path), "tensors": 0})
    return files


def write_ms(args, source, on_tensor):
    import safetensors_writer

    root = args.out
    files = []
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[source.dtype]
    for rel, obj in ms_config_files(args.size, torch_dtype).items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    for wf in selected_files(args.layout, args.size, args.only):
        path = os.path.join(root, _file_name(wf.path, args.variant))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        entries = [e for comp in wf.components for e in comp.entries]
        for comp in wf.components:
            _progress(_component_report(comp, source))
        size = safetensors_writer.write(path, entries, source, wf.metadata, on_tensor)
        files.append({"path": path, "bytes": size, "tensors": len(entries)})
    # ModelScope's tokenizer/ holds the slow tokenizer's files; pad '!' as in folders converted
    # from OpenCLIP text towers (stabilityai/stable-diffusion-2's tokenizer_config.json).
    for path in tokenizer_files.write_hf(os.path.join(root, "tokenizer"), tokenizer_files.default_merges(), pad="!", fast=args.fast_tokenizer):
        files.append({"path": path, "bytes": os.path.getsize(path), "tensors": 0})
    return files


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Synthetic checkpoints in the real layouts (real keys and shapes, random values).")
    p.add_argument("--layout", required=True, choices=LAYOUTS)
    p.add_argument("--size", required=True, choices=sorted(configs.CONFIGS))
    p.add_argument("--dtype", default="fp32", choices=sorted(CLI_DTYPES), help="element type of the floating tensors (schedule buffers stay fp32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="the .ckpt/.safetensors file (videocrafter2-*) or the folder (modelscope-diffusers)")
    p.add_argument("--manifest", action="store_true", help="print the manifest as JSON lines instead of writing")
    p.add_argument("--legacy-pickle", action="store_true", help="videocrafter2-ckpt: torch.save's pre-1.6 non-zip format")
    p.add_argument("--with-tokenizer", action="store_true", help="videocrafter2-*: also write open_clip's bpe_simple_vocab_16e6.txt.gz beside the file")
    p.add_argument("--fast-tokenizer", action="store_true", help="modelscope-diffusers: also write tokenizer/tokenizer.json")
    p.add_argument("--variant", help="modelscope-diffusers: diffusers variant in the file names (fp16 -> diffusion_pytorch_model.fp16.safetensors)")
    p.add_argument("--components", help="comma-separated subset of schedule,unet,vae,text (default all): smaller files for tests")
    p.add_argument("--checksums", help="write per-tensor sums of the written values to this JSON file")
    args = p.parse_args(argv)

    dtype = CLI_DTYPES[args.dtype]
    args.only = None if not args.components else set(args.components.split(","))
    if args.only is not None and not args.only <= {"schedule", "unet", "vae", "text"}:
        p.error(f"--components: unknown {', '.join(sorted(args.only - {'schedule', 'unet', 'vae', 'text'}))}")
    if args.manifest:
        print_manifest(args.layout, args.size, dtype, args.variant, args.only)
        return
    if not args.out:
        p.error("--out is required unless --manifest")
    if args.legacy_pickle and args.layout != "videocrafter2-ckpt":
        p.error("--legacy-pickle applies to --layout videocrafter2-ckpt only")

    vc2 = args.layout.startswith("videocrafter2")
    source = Source(args.seed, dtype, configs.CONFIGS[args.size]["vc2"]["schedule"] if vc2 else None)
    checksums = Checksums() if args.checksums else None
    _progress(f"{args.layout} ({args.size}, {args.dtype}, seed {args.seed}):")
    files = (write_vc2 if vc2 else write_ms)(args, source, checksums)
    total = sum(f["bytes"] for f in files)
    _progress(f"total: {total:,} bytes in {len(files)} files")
    if checksums is not None:
        with open(args.checksums, "w", encoding="utf-8") as f:
            json.dump(checksums.rows, f)
    summary = {"layout": args.layout, "size": args.size, "dtype": dtype, "seed": args.seed, "files": files, "total_bytes": total, "tensors": sum(f["tensors"] for f in files)}
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
