#!/usr/bin/env python3
"""CPU benchmark of a compiled encoder tower (an ONNX graph), in one run:
a ViT of the ViT-S/16 shape (224x224 image, 197 tokens, width 384, 6
heads; --depth blocks, random weights) exported from PyTorch, compiled
twice,
- as modrwkv-compile builds it: the tower's weight products in the form
  y = x W^T that the product kernels (rwkv-matmul-kernels) take;
- with the pipeline option matmul-kernels=0: the same IR with every product
  as plain loops (what the tower's products were before they took that
  form),
and timed (median of --runs calls of modrwkv_graph_run after a warm-up,
one thread), beside PyTorch float32 on one thread. Checks the outputs
against PyTorch (max|err|/std) and prints one JSON object with the times
and their ratios.

usage: bench/encoder.py --tools build/bin [--depth 6] [--runs 5]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "test", "onnx"))
sys.path.insert(0, os.path.join(HERE, "gpu"))
from export_encoders import ViT  # noqa: E402
from runtime import Runtime  # noqa: E402


def graph_runner(runtime, artifact):
    """A function that runs the artifact's first graph on one input."""
    graphs = runtime.graphs(artifact)
    with open(os.path.join(artifact, "manifest.json")) as f:
        output = json.load(f)["graphs"][0]["outputs"][0]["shape"]
    return lambda x: graphs.run(0, x, output)


def median_seconds(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tools", required=True)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    vit = ViT(image=224, patch=16, dim=384, depth=args.depth, heads=6).eval()
    x = np.random.default_rng(0).standard_normal(
        (1, 3, 224, 224)).astype(np.float32)
    runtime = Runtime(os.path.join(args.tools, os.pardir, "lib",
                                   "libmodrwkv_runtime.so"))
    result = {"tower": f"ViT 224/16, width 384, {args.depth} blocks, "
              "197 tokens", "threads": 1, "runs": args.runs}
    with tempfile.TemporaryDirectory() as work, torch.no_grad():
        onnx_path = os.path.join(work, "vit.onnx")
        torch.onnx.export(vit, (torch.from_numpy(x),), onnx_path,
                          opset_version=17, input_names=["pixel_values"],
                          output_names=["last_hidden_state"])
        want = vit(torch.from_numpy(x)).numpy()
        result["torch_s"] = median_seconds(
            lambda: vit(torch.from_numpy(x)), args.runs)
        for name, options in [
                ("kernels", []),
                ("loops", ["--pipeline",
                           "modrwkv-cpu-pipeline{matmul-kernels=0}"])]:
            art = os.path.join(work, name)
            subprocess.run([os.path.join(args.tools, "modrwkv-compile"),
                            onnx_path, "-o", art] + options, check=True)
            run = graph_runner(runtime, art)
            got = run(x)
            result[f"{name}_err"] = float(np.abs(got - want).max() /
                                          want.std())
            result[f"{name}_s"] = median_seconds(lambda: run(x), args.runs)
    result["loops_over_kernels"] = result["loops_s"] / result["kernels_s"]
    result["torch_over_kernels"] = result["torch_s"] / result["kernels_s"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
