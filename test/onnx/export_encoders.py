#!/usr/bin/env python3
"""Exports small PyTorch encoders with torch.onnx.export (opset 17) as ONNX
backend-test folders (model.onnx + test_data_set_0 with PyTorch's outputs)
and runs them through modrwkv-onnx-test with fp32 tolerances
(|got - want| <= 1e-5 + 1e-4 |want|):

  vit          a ViT: patch Conv2d, class token, position embedding,
               pre-norm attention blocks (GELU MLP), final LayerNorm
  audio        a Whisper-style encoder: log-mel input, two Conv1d + GELU
               (the second with stride 2), position embedding, blocks
  wavlm        a WavLM-style encoder: raw waveform, Conv1d feature
               extractor with GroupNorm, projection, blocks

Each also compiled for --target cuda and run on the CUDA emulator. Also
compiles the ViT exported with a dynamic batch dim, pinned with
`modrwkv-compile --dim batch=2`, and checks the manifest's input shape.

  export_encoders.py --tools BIN_DIR --workdir DIR
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        att = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        y = att.softmax(dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, image=32, patch=8, dim=64, depth=2, heads=4):
        super().__init__()
        n = (image // patch) ** 2
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, 2 * dim)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        cls = self.cls.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class AudioEncoder(nn.Module):
    def __init__(self, mels=80, frames=64, dim=64, depth=2, heads=4):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, dim, 3, padding=1)
        self.conv2 = nn.Conv1d(dim, dim, 3, stride=2, padding=1)
        self.pos = nn.Parameter(torch.randn(1, frames // 2, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, 4 * dim)
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, mel):
        x = nn.functional.gelu(self.conv1(mel))
        x = nn.functional.gelu(self.conv2(x)).permute(0, 2, 1)
        x = x + self.pos
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class WavLMEncoder(nn.Module):
    def __init__(self, dim=64, depth=1, heads=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, 32, 10, stride=5, bias=False), nn.GroupNorm(32, 32),
            nn.GELU(), nn.Conv1d(32, 32, 3, stride=2, bias=False), nn.GELU(),
            nn.Conv1d(32, 32, 2, stride=2, bias=False), nn.GELU())
        self.norm0 = nn.LayerNorm(32)
        self.proj = nn.Linear(32, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, 2 * dim)
                                    for _ in range(depth))

    def forward(self, wave):
        x = self.features(wave.unsqueeze(1)).transpose(1, 2)
        x = self.proj(self.norm0(x))
        for block in self.blocks:
            x = block(x)
        return x


def export(model, example, folder, input_name, dynamic=None):
    os.makedirs(os.path.join(folder, "test_data_set_0"), exist_ok=True)
    model.eval()
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(model, (example,), path, opset_version=17,
                      input_names=[input_name], output_names=["features"],
                      dynamic_axes=dynamic)
    with torch.no_grad():
        want = model(example).numpy()
    data = os.path.join(folder, "test_data_set_0")
    for name, array in [("input_0", example.numpy()), ("output_0", want)]:
        with open(os.path.join(data, name + ".pb"), "wb") as f:
            f.write(numpy_helper.from_array(array).SerializeToString())
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{os.path.basename(folder)}: {want.shape} output, ops: "
          + " ".join(ops))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    work = args.workdir
    os.makedirs(work, exist_ok=True)

    export(ViT(), torch.randn(2, 3, 32, 32), os.path.join(work, "vit"),
           "pixel_values")
    export(AudioEncoder(), torch.randn(1, 80, 64),
           os.path.join(work, "audio"), "mel")
    export(WavLMEncoder(), torch.randn(1, 400), os.path.join(work, "wavlm"),
           "waveform")
    tool = os.path.join(args.tools, "modrwkv-onnx-test")
    folders = [os.path.join(work, n) for n in ("vit", "audio", "wavlm")]
    # On the CPU, then compiled for --target cuda on the CUDA emulator (an
    # ONNX model alone on the GPU path, its small initializers moved to
    # device memory).
    for target in ([], ["--cuda-emulator"]):
        proc = subprocess.run([tool, "--rtol", "1e-4", "--atol", "1e-5"]
                              + target + folders, capture_output=True,
                              text=True)
        print(" ".join(target) or "cpu", proc.stdout, sep="\n", end="")
        if proc.returncode != 0 or proc.stdout.count("\nPASS") + \
                proc.stdout.startswith("PASS") != 3:
            print(proc.stderr, file=sys.stderr)
            return 1

    # A dynamic batch dim, pinned at compile time.
    dyn = os.path.join(work, "vit-dynamic")
    export(ViT(), torch.randn(2, 3, 32, 32), dyn, "pixel_values",
           dynamic={"pixel_values": {0: "batch"}, "features": {0: "batch"}})
    compile_tool = os.path.join(args.tools, "modrwkv-compile")
    model = os.path.join(dyn, "model.onnx")
    unpinned = subprocess.run([compile_tool, model, "-o",
                               os.path.join(dyn, "art")],
                              capture_output=True, text=True)
    if unpinned.returncode == 0 or "--dim batch=N" not in unpinned.stderr:
        print("expected a request to pin 'batch', got:", unpinned.stderr)
        return 1
    subprocess.run([compile_tool, model, "--dim", "batch=2", "-o",
                    os.path.join(dyn, "art")], check=True)
    with open(os.path.join(dyn, "art", "manifest.json")) as f:
        graph = json.load(f)["graphs"][0]
    if graph["inputs"][0]["shape"] != [2, 3, 32, 32] or \
            graph["outputs"][0]["shape"] != [2, 17, 64]:
        print("unexpected shapes in the manifest:", graph)
        return 1
    print("vit-dynamic: --dim batch=2 -> input [2, 3, 32, 32], output "
          "[2, 17, 64]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
