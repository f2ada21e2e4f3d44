#!/usr/bin/env python3
"""Turns bench/gpu/run.sh's measurements into results.md and results.json:
decode (batch 1) against the bandwidth bound (bytes read per token: every
weight once, one embedding row, the WKV state read and written; over the
measured copy bandwidth), prefill against the fp32 bound (bench/bounds.py,
over the measured fp32 rate), both against PyTorch eager on the same GPU;
batch-64 decode (modrwkv_decode_batch) against its own bound (weights once
a step, each sequence's state and logits row); prefill and batch-64 decode
with cuBLAS against the same artifact with every product a generated kernel
(MODRWKV_CUBLAS=0, same run); bf16 with merged launches against the same
model compiled with --merge-launches=0, when run.sh measured it."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bounds import batch_decode_bytes, decode_bytes, prefill_flops  # noqa: E402


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
            kernels = load(f"{shape}-{dtype}.kernels.bench.json")
            decode_bound = probe["copy_bandwidth_gbs"] * 1e9 / decode_bytes(
                manifest, with_state=True)
            prefill_bound = probe["fp32_gflops"] * 1e9 / prefill_flops(
                manifest, bench["prefill_tokens"])
            row = {"model": shape, "dtype": dtype,
                   "launches_per_call": manifest["kernels"]["launches_per_call"],
                   "decode_tokens_per_s": bench["decode_tokens_per_s"],
                   "decode_bound_tokens_per_s": decode_bound,
                   "prefill_tokens_per_s": bench["prefill_tokens_per_s"],
                   "prefill_bound_tokens_per_s": prefill_bound,
                   "torch_decode_tokens_per_s": torch["decode_tokens_per_s"],
                   "torch_prefill_tokens_per_s": torch["prefill_tokens_per_s"],
                   "kernels_only_prefill_tokens_per_s":
                       kernels["prefill_tokens_per_s"]}
            batch = bench.get("batch_decode_tokens_per_s", {}).get("64")
            batch_cell = "not measured"
            if batch:
                bound = 64 * probe["copy_bandwidth_gbs"] * 1e9 / \
                    batch_decode_bytes(manifest, 64)
                row["batch64_decode_tokens_per_s"] = batch
                row["batch64_decode_bound_tokens_per_s"] = bound
                plain = kernels["batch_decode_tokens_per_s"]["64"]
                row["kernels_only_batch64_decode_tokens_per_s"] = plain
                batch_cell = (f"{batch:.0f} ({batch / plain:.2f}x) | {bound:.0f} "
                              f"({100 * batch / bound:.1f}%)")
            else:
                batch_cell += " | -"
            rows.append(row)
            table.append(
                f"| {shape} | {dtype} | {row['launches_per_call']} "
                f"| {row['decode_tokens_per_s']:.1f} | {decode_bound:.0f} "
                f"({100 * row['decode_tokens_per_s'] / decode_bound:.1f}%) "
                f"| {batch_cell} "
                f"| {row['prefill_tokens_per_s']:.0f} ("
                f"{row['prefill_tokens_per_s'] / kernels['prefill_tokens_per_s']:.2f}x) "
                f"| {prefill_bound:.0f} "
                f"({100 * row['prefill_tokens_per_s'] / prefill_bound:.1f}%) "
                f"| {row['decode_tokens_per_s'] / torch['decode_tokens_per_s']:.2f}x "
                f"| {row['prefill_tokens_per_s'] / torch['prefill_tokens_per_s']:.2f}x |")
    merging = []
    for shape in shapes:
        name = os.path.join(out, f"{shape}-bf16-alone.bench.json")
        if not os.path.exists(name):
            continue
        alone = load(f"{shape}-bf16-alone.bench.json")
        merged = load(f"{shape}-bf16.bench.json")
        sites = (load(f"{shape}-bf16.manifest.json")["kernels"]["launches_per_call"],
                 load(f"{shape}-bf16-alone.manifest.json")["kernels"]["launches_per_call"])
        row = {"model": shape, "launches_per_call": sites}
        cells = []
        for key, label in (("decode_tokens_per_s", "decode"),
                           ("prefill_tokens_per_s", "prefill 512")):
            row[key] = (merged[key], alone[key])
            cells.append(f"{label} {merged[key]:.1f} vs {alone[key]:.1f} tok/s "
                         f"({merged[key] / alone[key]:.2f}x)")
        b1 = merged.get("batch_decode_tokens_per_s", {}).get("64")
        b2 = alone.get("batch_decode_tokens_per_s", {}).get("64")
        if b1 and b2:
            row["batch64_decode_tokens_per_s"] = (b1, b2)
            cells.append(f"batch-64 decode {b1:.0f} vs {b2:.0f} tok/s "
                         f"({b1 / b2:.2f}x)")
        rows.append({"merge_launches": row})
        merging.append(f"- {shape} bf16, merged vs each kernel alone "
                       f"({sites[0]} vs {sites[1]} launch sites): "
                       + "; ".join(cells))
    md = "\n".join([
        f"{probe['device']}: copy {probe['copy_bandwidth_gbs']:.0f} GB/s, "
        f"fp32 {probe['fp32_gflops'] / 1e3:.1f} TFLOP/s (PyTorch {torch.get('torch')})",
        "",
        "cuBLAS columns: tok/s (x the same artifact with MODRWKV_CUBLAS=0)",
        "",
        "| model | weights | launches/call | decode tok/s | decode bound | "
        "batch-64 decode tok/s | batch-64 bound | "
        "prefill tok/s (512) | fp32 prefill bound | vs torch decode | vs torch prefill |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *table,
        "", *merging])
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"probe": probe, "rows": rows}, f, indent=1)
    print(md)


if __name__ == "__main__":
    main()
