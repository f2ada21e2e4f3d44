#!/usr/bin/env python3
"""Float64 reference of Bone (Block Affine) merging, written from the
formulas (issue 6 / docs/bone.md), and random adapters in both layouts.

bone: D [r, out]; every r-wide input shard of W gets D^T added (the last,
      partial shard its first columns).
bat:  W cut into r x r blocks W_ji; W'_ji = W_ji (I + B_s) + B_s with
      s = i in RWKV-PEFT's layout (B [in/r, r, r]) and s = j in Hugging
      Face PEFT's (B [out/r, r, r]).
"""
import json
import os
import struct

import numpy as np
import torch

PROJECTIONS = ["att.receptance", "att.key", "att.value", "att.output",
               "ffn.key", "ffn.value"]


def merge(W, A, variant):
    W = np.array(W, dtype=np.float64)
    A = np.array(A, dtype=np.float64)
    out = W.copy()
    n, k = W.shape
    if variant == "bone":
        r = A.shape[0]
        for start in range(0, k, r):
            width = min(r, k - start)
            out[:, start:start + width] += A.T[:, :width]
        return out
    r = A.shape[1]
    for j in range(n // r):
        for i in range(k // r):
            B = A[i] if variant == "bat_in" else A[j]
            block = W[j * r:(j + 1) * r, i * r:(i + 1) * r]
            out[j * r:(j + 1) * r, i * r:(i + 1) * r] = block @ (np.eye(r) + B) + B
    return out


def make_adapter(base, layout, variant, rank, seed, layers=None, ln=True):
    """Random adapter tensors, keyed as the layout stores them, plus what
    the merged model's weights must be. variant: bone | bat."""
    rng = np.random.default_rng(seed)
    L = 0
    while f"blocks.{L}.ln1.weight" in base:
        L += 1
    tensors, merged = {}, dict(base)
    for i in (layers if layers is not None else range(L)):
        for proj in PROJECTIONS:
            name = f"blocks.{i}.{proj}"
            W = base[name + ".weight"]
            n, k = W.shape
            if variant == "bone":
                A = rng.standard_normal((rank, n)) * 0.05
                kind = "bone"
            else:
                blocks = k // rank if layout == "rwkv-peft" else n // rank
                A = rng.standard_normal((blocks, rank, rank)) * 0.05
                kind = "bat_in" if layout == "rwkv-peft" else "bat_out"
            A = A.astype(np.float32)
            suffix = ".disha" if layout == "rwkv-peft" else ".bone_block"
            tensors[name + suffix] = A
            merged[name + ".weight"] = merge(W, A, kind)
        if ln:  # a LayerNorm the fine-tune also trained
            g = (base[f"blocks.{i}.ln1.weight"] * 1.1 + 0.01).astype(np.float32)
            tensors[f"blocks.{i}.ln1.weight"] = g
            merged[f"blocks.{i}.ln1.weight"] = g.astype(np.float64)
    return tensors, merged


def save(tensors, layout, variant, rank, path):
    if layout == "rwkv-peft":
        torch.save({k: torch.tensor(v) for k, v in tensors.items()}, path)
        return path
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "BONE", "r": rank,
                   "init_weights": "bat" if variant == "bat" else True,
                   "target_modules": [p.split(".")[1] for p in PROJECTIONS]}, f)
    header, blobs, offset = {}, [], 0
    for key, v in tensors.items():
        raw = np.ascontiguousarray(v, dtype=np.float32).tobytes()
        header["base_model.model." + key] = {
            "dtype": "F32", "shape": list(v.shape),
            "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    with open(os.path.join(path, "adapter_model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return path
