#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up and build, generate a
# small RWKV-7 checkpoint in the released layout (bf16 .pth, the real
# 65536-token vocabulary), compile it to a native artifact, run it in
# prefill and decode mode, and compare the logits with the float64 reference.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

work=build/quickstart
mkdir -p "$work"
py=.venv/bin/python
echo "== generating a random 4-layer, 256-wide RWKV-7 checkpoint"
$py test/e2e/gen_checkpoint.py -o "$work/rwkv7-demo.pth" \
  --layers 4 --width 256 --vocab 65536 --ranks 32,32,16,64
echo "== modrwkv-compile"
time build/bin/modrwkv-compile "$work/rwkv7-demo.pth" -o "$work/artifact"
ls -l "$work/artifact"
tokens=510,33,4000,12,65000,7,300,9
echo "== modrwkv-run (prefill, then --step)"
time build/bin/modrwkv-run "$work/artifact" --tokens $tokens \
  --logits-out "$work/prefill.npy"
build/bin/modrwkv-run "$work/artifact" --tokens $tokens --step \
  --logits-out "$work/step.npy"
$py - "$work" "$tokens" <<'PY'
import sys
import numpy as np
sys.path.insert(0, "test/e2e")
import reference
work, tokens = sys.argv[1], [int(t) for t in sys.argv[2].split(",")]
ref, _ = reference.Rwkv7(reference.load(f"{work}/rwkv7-demo.pth")).run(tokens)
for mode in ("prefill", "step"):
    got = np.load(f"{work}/{mode}.npy")
    err = np.abs(got - ref).max() / ref.std()
    print(f"{mode:8s} logits {got.shape}: max|err|/std vs float64 reference "
          f"= {err:.2e}; next token (argmax) = {int(got[-1].argmax())}")
PY
