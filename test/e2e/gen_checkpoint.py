#!/usr/bin/env python3
"""Writes a random RWKV-7 (x070) checkpoint in the released layout.

Names and shapes follow the official checkpoints (see DESIGN.md): bf16 by
default, linear weights [out, in], per-channel vectors [1, 1, C], r_k [H, 64].
`.pth` files are written by torch.save; `.safetensors` by a small writer of
the published format (8-byte header length, JSON header, raw data).
"""
import argparse
import json
import struct

import numpy as np
import torch


def make_state_dict(layers, width, vocab, ffn, ranks, seed, dtype,
                    time_state=False):
    dw, da, dv, dg = ranks
    heads = width // 64
    assert heads * 64 == width, "width must be a multiple of 64"
    rng = np.random.default_rng(seed)
    sd = {}

    def put(name, array):
        sd[name] = torch.tensor(np.asarray(array, dtype=np.float32)).to(dtype)

    def normal(shape, scale):
        return rng.standard_normal(shape) * scale

    def vec(lo, hi):
        return rng.uniform(lo, hi, (1, 1, width))

    put("emb.weight", normal((vocab, width), 1.0))
    put("blocks.0.ln0.weight", 1 + normal(width, 0.1))
    put("blocks.0.ln0.bias", normal(width, 0.1))
    for i in range(layers):
        p = f"blocks.{i}."
        for ln in ("ln1", "ln2"):
            put(p + ln + ".weight", 1 + normal(width, 0.1))
            put(p + ln + ".bias", normal(width, 0.1))
        for mu in ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g"):
            put(p + "att." + mu, vec(0, 1))
        put(p + "att.w0", vec(-3, 1))
        put(p + "att.w1", normal((width, dw), 0.2))
        put(p + "att.w2", normal((dw, width), 0.2))
        put(p + "att.a0", vec(-1, 1))
        put(p + "att.a1", normal((width, da), 0.2))
        put(p + "att.a2", normal((da, width), 0.2))
        put(p + "att.v0", vec(-1, 1))
        put(p + "att.v1", normal((width, dv), 0.2))
        put(p + "att.v2", normal((dv, width), 0.2))
        put(p + "att.g1", normal((width, dg), 0.2))
        put(p + "att.g2", normal((dg, width), 0.2))
        put(p + "att.k_k", 0.85 + normal((1, 1, width), 0.1))
        put(p + "att.k_a", 1 + normal((1, 1, width), 0.1))
        put(p + "att.r_k", normal((heads, 64), 0.3))
        for lin in ("receptance", "key", "value", "output"):
            put(p + f"att.{lin}.weight", normal((width, width), width ** -0.5))
        put(p + "att.ln_x.weight", 1 + normal(width, 0.1))
        put(p + "att.ln_x.bias", normal(width, 0.1))
        put(p + "ffn.x_k", vec(0, 1))
        put(p + "ffn.key.weight", normal((ffn, width), width ** -0.5))
        put(p + "ffn.value.weight", normal((width, ffn), ffn ** -0.5))
    put("ln_out.weight", 1 + normal(width, 0.1))
    put("ln_out.bias", normal(width, 0.1))
    put("head.weight", normal((vocab, width), width ** -0.5))
    if time_state:
        # RWKV-PEFT state tuning: a learned initial WKV state [H, value,
        # key] per layer, drawn last so that the other weights do not
        # change.
        for i in range(layers):
            put(f"blocks.{i}.att.time_state", normal((heads, 64, 64), 0.5))
    return sd


def to_fla(sd, fuse_mixes):
    """The state dict in flash-linear-attention's RWKV7ForCausalLM layout
    (as its convert_from_rwkv7 script writes it): model.layers.N.attn.*_proj,
    LoRA paths as two linear layers ({w,a,v,g}_lora.lora.0.weight = x1^T,
    lora.2.weight = x2^T, lora.2.bias = x0), per-channel vectors squeezed,
    and with `fuse_mixes` the six token-shift mixes as attn.x_x [6, C]."""
    top = {"emb.weight": "model.embeddings.weight",
           "ln_out.weight": "model.norm.weight", "ln_out.bias": "model.norm.bias",
           "head.weight": "lm_head.weight"}
    modules = {"att": "attn", "ffn": "ffn", "ln0": "pre_norm",
               "ln1": "attn_norm", "ln2": "ffn_norm"}
    projections = {"receptance": "r_proj", "key": "k_proj", "value": "v_proj",
                   "output": "o_proj", "ln_x": "g_norm"}
    out, mixes = {}, {}
    for name, t in sd.items():
        if name in top:
            out[top[name]] = t
            continue
        _, layer, module, rest = name.split(".", 3)
        prefix = f"model.layers.{layer}.{modules[module]}."
        if t.dim() == 3 and t.shape[:2] == (1, 1):
            t = t.reshape(-1)
        first = rest.split(".")[0]
        if module == "att" and first in projections:
            out[prefix + projections[first] + rest[len(first):]] = t
        elif module == "att" and len(rest) == 2 and rest[0] in "wavg" and rest[1] in "012":
            part = {"0": "2.bias", "1": "0.weight", "2": "2.weight"}[rest[1]]
            out[prefix + f"{rest[0]}_lora.lora.{part}"] = \
                t if rest[1] == "0" else t.t().contiguous()
        elif module == "att" and fuse_mixes and rest in [f"x_{c}" for c in "rwkvag"]:
            mixes.setdefault(prefix + "x_x", {})[rest[2]] = t
        else:
            out[prefix + rest] = t
    for name, parts in mixes.items():
        out[name] = torch.stack([parts[c] for c in "rwkvag"])
    return out


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16",
                      torch.bfloat16: "BF16"}


def save_safetensors(sd, path):
    header, chunks, offset = {}, [], 0
    for name, t in sd.items():
        raw = t.contiguous().view(torch.int16 if t.dtype != torch.float32
                                  else torch.int32).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype],
                        "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=300)
    ap.add_argument("--ffn", type=int, default=0, help="default 4 x width")
    ap.add_argument("--ranks", default="16,16,8,32",
                    help="LoRA ranks decay,iclr,value,gate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "fp32"])
    ap.add_argument("--format", choices=["pth", "safetensors"])
    ap.add_argument("--time-state", action="store_true",
                    help="a state-tuned checkpoint (blocks.N.att.time_state)")
    ap.add_argument("--layout", default="released",
                    choices=["released", "fla", "fla-fused"],
                    help="tensor names: the released ones, or those of "
                    "flash-linear-attention (mixes apart, or fused as x_x)")
    ap.add_argument("--views", action="store_true",
                    help="save tensors as views into shared storages")
    args = ap.parse_args()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16,
             "fp32": torch.float32}[args.dtype]
    ranks = tuple(int(r) for r in args.ranks.split(","))
    sd = make_state_dict(args.layers, args.width, args.vocab,
                         args.ffn or 4 * args.width, ranks, args.seed, dtype,
                         args.time_state)
    if args.layout != "released":
        sd = to_fla(sd, fuse_mixes=args.layout == "fla-fused")
    fmt = args.format or ("safetensors" if args.output.endswith(".safetensors")
                          else "pth")
    if fmt == "safetensors":
        save_safetensors(sd, args.output)
        return
    if args.views:
        # Transposed views and slices of one storage: offsets and strides.
        for name in list(sd):
            t = sd[name]
            if t.dim() == 2:
                big = torch.zeros((t.shape[1] + 1, t.shape[0]), dtype=t.dtype)
                big[1:] = t.t()
                sd[name] = big[1:].t()
    torch.save(sd, args.output)


if __name__ == "__main__":
    main()
