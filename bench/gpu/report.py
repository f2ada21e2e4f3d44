#!/usr/bin/env python3
"""Turns bench/gpu/run.sh's measurements into results.md and results.json:
decode (batch 1) against the bandwidth bound (bytes read per token: every
weight once, one embedding row, the WKV state read and written; over the
measured copy bandwidth), prefill against the fp32 bound (2 FLOPs per
matrix parameter per token over the measured fp32 rate), both against
PyTorch eager on the same GPU."""
import json
import math
import os
import sys


def main():
    out, shapes = sys.argv[1], sys.argv[2:]
    load = lambda name: json.load(open(os.path.join(out, name)))
    probe = load("probe.json")
    rows, table = [], []
    for shape in shapes:
        torch = load(f"{shape}-torch.json")
        for dtype in ("f32", "bf16"):
            manifest = load(f"{shape}-{dtype}.manifest.json")
            bench = load(f"{shape}-{dtype}.bench.json")
            size = lambda t: (4 if t["dtype"] == "f32" else 2) * math.prod(t["shape"])
            tensors = manifest["weights"]["tensors"]
            emb = next(t for t in tensors if t["name"].startswith("emb.weight"))
            wkv = 4 * math.prod(manifest["state"]["wkv"])
            bytes_per_token = (sum(size(t) for t in tensors) - size(emb)
                               + size(emb) / emb["shape"][0] + 2 * wkv)
            matrix_params = sum(math.prod(t["shape"]) for t in tensors
                                if len(t["shape"]) == 2
                                and not t["name"].startswith("emb."))
            decode_bound = probe["copy_bandwidth_gbs"] * 1e9 / bytes_per_token
            prefill_bound = probe["fp32_gflops"] * 1e9 / (2 * matrix_params)
            row = {"model": shape, "dtype": dtype,
                   "launches_per_call": manifest["kernels"]["launches_per_call"],
                   "decode_tokens_per_s": bench["decode_tokens_per_s"],
                   "decode_bound_tokens_per_s": decode_bound,
                   "prefill_tokens_per_s": bench["prefill_tokens_per_s"],
                   "prefill_bound_tokens_per_s": prefill_bound,
                   "torch_decode_tokens_per_s": torch["decode_tokens_per_s"],
                   "torch_prefill_tokens_per_s": torch["prefill_tokens_per_s"]}
            rows.append(row)
            table.append(
                f"| {shape} | {dtype} | {row['launches_per_call']} "
                f"| {row['decode_tokens_per_s']:.1f} | {decode_bound:.0f} "
                f"({100 * row['decode_tokens_per_s'] / decode_bound:.1f}%) "
                f"| {row['prefill_tokens_per_s']:.0f} | {prefill_bound:.0f} "
                f"({100 * row['prefill_tokens_per_s'] / prefill_bound:.1f}%) "
                f"| {row['decode_tokens_per_s'] / torch['decode_tokens_per_s']:.2f}x "
                f"| {row['prefill_tokens_per_s'] / torch['prefill_tokens_per_s']:.2f}x |")
    md = "\n".join([
        f"{probe['device']}: copy {probe['copy_bandwidth_gbs']:.0f} GB/s, "
        f"fp32 {probe['fp32_gflops'] / 1e3:.1f} TFLOP/s (PyTorch {torch.get('torch')})",
        "",
        "| model | weights | launches/call | decode tok/s | decode bound | "
        "prefill tok/s (512) | prefill bound | vs torch decode | vs torch prefill |",
        "|---|---|---|---|---|---|---|---|---|", *table])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"probe": probe, "rows": rows}, f, indent=1)
    print(md)


if __name__ == "__main__":
    main()
