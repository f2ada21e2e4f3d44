#!/usr/bin/env python3
"""Makes a multimodal case for bench/gpu/check.py: the ViT + conv adapter +
RWKV-7 model of test/e2e/check_multimodal.py (vocab 300, so that its
weights travel with it: well under 1 MB), compiled --target cuda with its
image graph, and the float64 references (PyTorch ViT, the adapter and
RWKV-7 in numpy) of its adapter rows and logits for one prompt with an
image, so that the GPU machine needs no compiler, tower or reference code.

CASE/ then holds artifact/, pixels.npy (the graph's input), rows.npy and
want.npy (the references) and multimodal.json (the tokens, and how many
are prefilled before the rest are decoded one at a time).
usage: multimodal_case.py CASE --tools BIN [--chip sm_90 | --cuda-emulator]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, os.pardir, os.pardir, "test", "e2e")
sys.path.insert(0, E2E)
import check_multimodal as mm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case")
    ap.add_argument("--tools", required=True)
    ap.add_argument("--chip", default="sm_90")
    ap.add_argument("--cuda-emulator", action="store_true")
    args = ap.parse_args()
    shutil.rmtree(args.case, ignore_errors=True)
    os.makedirs(args.case)
    work = os.path.join(args.case, "build")
    os.makedirs(work)
    torch.manual_seed(0)
    vit = mm.ViT(image=mm.IMAGE, patch=8, dim=mm.D_ENC, depth=2,
                 heads=4).eval()
    pixels = np.random.default_rng(1).standard_normal(
        (1, 3, mm.IMAGE, mm.IMAGE)).astype(np.float32)
    onnx_path = os.path.join(work, "vit.onnx")
    torch.onnx.export(vit, (torch.from_numpy(pixels),), onnx_path,
                      opset_version=17, input_names=["pixel_values"],
                      output_names=["last_hidden_state"])
    sd = mm.make_checkpoint(os.path.join(work, "model.pth"), conv=True,
                            seed=4, vocab=300)
    with torch.no_grad():
        features = vit.double()(torch.from_numpy(pixels).double())[0].numpy()
    rows = mm.adapter_reference(sd, features)
    tokens = [5, 6] + [mm.PLACEHOLDER] * len(rows) + [7, 8, 9, 10]
    want = mm.model_reference(sd, tokens, rows)
    target = ["--cuda-emulator"] if args.cuda_emulator else [
        "--chip", args.chip]
    subprocess.run([os.path.join(args.tools, "modrwkv-compile"),
                    os.path.join(work, "model.pth"), "--encoder", onnx_path,
                    "-o", os.path.join(args.case, "artifact"), "--target",
                    "cuda"] + target, check=True)
    shutil.rmtree(work)
    np.save(os.path.join(args.case, "pixels.npy"), pixels)
    np.save(os.path.join(args.case, "rows.npy"), rows)
    np.save(os.path.join(args.case, "want.npy"), want)
    with open(os.path.join(args.case, "multimodal.json"), "w") as f:
        json.dump({"tokens": tokens, "prefilled": len(tokens) - 4}, f)


if __name__ == "__main__":
    main()
