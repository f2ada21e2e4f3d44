#!/usr/bin/env python3
"""Writes an artifact's weights.bin from a checkpoint, following the weight
table of its manifest.json (name -> offset, shape, dtype; a '.T' suffix is
the transposed tensor, '.bf16' / '.f16' the bf16 / f16 copy, rounded to
nearest even as modrwkv-compile does).

The GPU benchmark uses it: an artifact of the 1.5B shape is compiled where
the compiler is, and its weights (6 GB) are made on the GPU machine instead
of being carried there. `--check` compares with the compiler's own file."""
import argparse
import json
import os

import numpy as np
import torch


def tensor_bytes(sd, entry):
    name, shape = entry["name"], entry["shape"]
    # Suffixes: ".T" transposed, then ".bf16" / ".f16" stored as such.
    base = name
    for suffix in (".bf16", ".f16"):
        base = base[:-len(suffix)] if base.endswith(suffix) else base
    transpose = base.endswith(".T")
    base = base[:-2] if transpose else base
    if base not in sd:
        raise SystemExit(f"fill_weights: the checkpoint has no tensor "
                         f"'{base}' for weight '{name}'")
    t = sd[base].float()
    if transpose:
        t = t.t()
    if t.numel() != int(np.prod(shape)):
        raise SystemExit(f"fill_weights: '{name}' has {t.numel()} elements, "
                         f"the manifest says {shape}")
    t = t.contiguous().reshape(shape)
    if entry["dtype"] == "bf16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    if entry["dtype"] == "f16":
        return t.to(torch.float16).numpy().tobytes()
    if entry["dtype"] == "f32":
        return t.numpy().tobytes()
    raise SystemExit(f"fill_weights: '{name}' has dtype {entry['dtype']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint")
    ap.add_argument("artifact")
    ap.add_argument("--check", action="store_true",
                    help="compare with the existing weights.bin instead")
    args = ap.parse_args()
    with open(os.path.join(args.artifact, "manifest.json")) as f:
        table = json.load(f)["weights"]
    sd = torch.load(args.checkpoint, map_location="cpu")
    path = os.path.join(args.artifact, table["file"])
    if args.check:
        with open(path, "rb") as f:
            have = f.read()
        bad = [e["name"] for e in table["tensors"]
               if have[e["offset"]:e["offset"] + len(tensor_bytes(sd, e))]
               != tensor_bytes(sd, e)]
        print(f"fill_weights --check: {len(table['tensors'])} tensors, "
              f"{len(bad)} differ {bad[:5]}")
        raise SystemExit(1 if bad else 0)
    with open(path, "wb") as f:
        f.truncate(table["size"])
        for e in table["tensors"]:
            f.seek(e["offset"])
            f.write(tensor_bytes(sd, e))


if __name__ == "__main__":
    main()
