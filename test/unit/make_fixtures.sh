#!/usr/bin/env bash
# usage: make_fixtures.sh PYTHON GEN_CHECKPOINT TOOLS_DIR OUT_DIR
set -euo pipefail
python=$1 gen=$2 tools=$3 out=$4
mkdir -p "$out"
"$python" "$gen" -o "$out/seed.pth" --layers 2 --width 64 --vocab 40 --ranks 3,5,2,7
"$python" "$gen" -o "$out/seed.safetensors" --layers 2 --width 64 --vocab 40 --ranks 3,5,2,7
"$python" "$gen" -o "$out/views-fp16.pth" --layers 1 --width 64 --vocab 33 --ranks 3,5,2,7 --dtype fp16 --views
"$python" "$gen" -o "$out/plain-fp16.safetensors" --layers 1 --width 64 --vocab 33 --ranks 3,5,2,7 --dtype fp16
rm -rf "$out/artifact"
"$tools/modrwkv-compile" "$out/seed.pth" -o "$out/artifact"
"$python" "$(dirname "$0")/../OnnxImporter/make_models.py" "$out/onnx"
