#!/usr/bin/env bash
# The GPU session's numerics script (bench/gpu/check.py) on the CUDA
# emulator, so that it is known to work before a GPU is lent: one case and
# the multimodal case as bundle.sh makes them, but compiled with
# --cuda-emulator and run with libmodrwkv_cuda_emulator.so as the driver.
# usage: bench/gpu/check_emulated.sh BUILD_DIR WORK_DIR (env PYTHON)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1
work=$2
py=${PYTHON:-.venv/bin/python}
rm -rf "$work"
mkdir -p "$work"
$py test/e2e/gen_checkpoint.py -o "$work/model.pth" \
  --layers 2 --width 128 --vocab 300 --seed 7
"$build/bin/modrwkv-compile" "$work/model.pth" -o "$work/artifact" \
  --target cuda --cuda-emulator --batch-decode
$py bench/gpu/multimodal_case.py "$work/multimodal" --tools "$build/bin" \
  --cuda-emulator
MODRWKV_LIBCUDA="$build/lib/libmodrwkv_cuda_emulator.so" \
  $py bench/gpu/check.py --lib "$build/lib/libmodrwkv_runtime.so" "$work" \
  "$work/multimodal"
