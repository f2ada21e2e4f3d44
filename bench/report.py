#!/usr/bin/env python3
"""Turns bench/run.sh's measurements into results.md and results.json:
decode vs the bandwidth bound (weight bytes read per token / measured read
bandwidth), prefill vs the fp32 FMA peak (bounds.py), both vs the PyTorch
baseline; batched decode (B sequences a step) against batch 1. Each row's
bounds come from the better of the probes taken right
before and after its runs (when present; else the run's first probe): a
probe that ran while the machine was slow (it can read 40% low, e.g. right
after a large artifact is unmapped) would flatter the ratio."""
import json
import os
import sys

from bounds import decode_bytes, prefill_flops


def row_probes(work, name, first):
    """The probes beside a row's runs, or the run's first probe."""
    local = [json.load(open(path)) for path in
             (os.path.join(work, f"{name}.probes-{when}.json") for when in ("before", "after"))
             if os.path.exists(path)]
    return local or [first]


def main():
    work, shapes = sys.argv[1], sys.argv[2:]
    load = lambda name: json.load(open(os.path.join(work, name)))
    probes = load("probes.json")
    blas = load(f"{shapes[0]}-torch.json").get("blas", "?")
    rows, table, batch_table = [], [], []
    for shape in shapes:
        torch = load(f"{shape}-torch.json")
        for dtype in ("f32", "bf16", "f16", "i8"):
            if not os.path.exists(os.path.join(work, f"{shape}-{dtype}.bench.json")):
                continue
            art = os.path.join(work, f"{shape}-{dtype}")
            manifest = json.load(open(os.path.join(art, "manifest.json")))
            compile_ = load(f"{shape}-{dtype}.compile.json")
            bench = load(f"{shape}-{dtype}.bench.json")
            local = row_probes(work, f"{shape}-{dtype}", probes)
            bandwidth = max(p["read_bandwidth_gbs"] for p in local)
            peak = max(p["fp32_fma_peak_gflops"] for p in local)
            decode_bound = bandwidth * 1e9 / decode_bytes(manifest)
            prefill_bound = peak * 1e9 / prefill_flops(manifest, bench["prefill_tokens"])
            row = {
                "model": shape, "dtype": dtype,
                "compile_s": compile_["compile_s"],
                "compile_peak_rss_mb": compile_["compile_rss_kb"] / 1024,
                "decode_tokens_per_s": bench["decode_tokens_per_s"],
                "decode_bound_tokens_per_s": decode_bound,
                "prefill_tokens_per_s": bench["prefill_tokens_per_s"],
                "prefill_bound_tokens_per_s": prefill_bound,
                "run_peak_rss_mb": bench["peak_rss_mb"],
                "probes": local,
                "torch_decode_tokens_per_s": torch["decode_tokens_per_s"],
                "torch_prefill_tokens_per_s": torch["prefill_tokens_per_s"],
                "batch_decode_tokens_per_s": bench.get("batch_decode_tokens_per_s", {}),
            }
            rows.append(row)
            if row["batch_decode_tokens_per_s"]:
                one = row["decode_tokens_per_s"]
                batch_table.append(
                    f"| {shape} | {dtype} | {one:.1f} | " + " | ".join(
                        f"B={b}: {v:.1f} ({v / one:.1f}x)"
                        for b, v in row["batch_decode_tokens_per_s"].items()) + " |")
            table.append(
                f"| {shape} | {dtype} | {row['compile_s']:.0f} s / {row['compile_peak_rss_mb']:.0f} MB "
                f"| {row['decode_tokens_per_s']:.1f} | {100 * row['decode_tokens_per_s'] / decode_bound:.0f}% "
                f"of {bandwidth:.1f} GB/s "
                f"| {row['prefill_tokens_per_s']:.1f} | {100 * row['prefill_tokens_per_s'] / prefill_bound:.1f}% "
                f"of {peak:.0f} GFLOP/s "
                f"| {row['run_peak_rss_mb']:.0f} MB "
                f"| {row['torch_decode_tokens_per_s']:.1f} / {row['torch_prefill_tokens_per_s']:.1f} "
                f"| {row['decode_tokens_per_s'] / row['torch_decode_tokens_per_s']:.2f}x / "
                f"{row['prefill_tokens_per_s'] / row['torch_prefill_tokens_per_s']:.2f}x |")
    every = [probes] + [p for row in rows for p in row["probes"]]
    span = lambda key: f"{min(p[key] for p in every):.1f}-{max(p[key] for p in every):.1f}"
    md = [f"Machine probes ({probes['threads']} threads; each row against the better "
          f"of the probes taken right before and after its runs): read bandwidth "
          f"{span('read_bandwidth_gbs')} GB/s, fp32 FMA peak "
          f"{span('fp32_fma_peak_gflops')} GFLOP/s. Decode: batch 1, 32 tokens; prefill: "
          f"512 tokens; medians after a warm-up. PyTorch: Debian's torch, "
          f"float32, BLAS {blas}.",
          "",
          "| model | weights | compile (time / peak RSS) | decode tok/s | of bandwidth bound "
          "| prefill tok/s | of FMA peak | run peak RSS | PyTorch fp32 decode / prefill tok/s "
          "| vs PyTorch (decode / prefill) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"] + table
    if batch_table:
        width = max(line.count("|") for line in batch_table) - 4
        md += ["", "Batched decode (modrwkv_decode_batch: B sequences advance one "
               "token per call; tokens/s of all of them, and the ratio to batch 1):",
               "", "| model | weights | batch 1 tok/s |" + " batch |" * width,
               "| --- | --- | --- |" + " --- |" * width] + batch_table
    open(os.path.join(work, "results.md"), "w").write("\n".join(md) + "\n")
    json.dump({"probes": probes, "results": rows},
              open(os.path.join(work, "results.json"), "w"), indent=2)
    print("\n".join(md))


if __name__ == "__main__":
    main()
