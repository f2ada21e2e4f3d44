#!/usr/bin/env bash
# GPU numerics and benchmark (issue 5), run on the GPU machine from the
# repository root, over the bundle of bench/gpu/bundle.sh (no compiler
# needed there: python3 with numpy and torch, and the NVIDIA driver):
# 1. per numerics case: regenerate the checkpoint, write weights.bin
#    (fill_weights.py) and check it is the compiler's (sha256); then
#    bench/gpu/check.py: every case against the float64 reference;
# 2. bench/gpu/probe.py: device-to-device copy bandwidth;
# 3. per benchmark shape: regenerate the checkpoint (same arguments as the
#    bundle's), write each artifact's weights.bin (fill_weights.py), then
#    modrwkv-bench (decode batch 1 and 64, prefill 512 tokens; medians of
#    RUNS), again with MODRWKV_CUBLAS=0 (every product a generated kernel:
#    the baseline of the cuBLAS path), and the PyTorch eager baseline on
#    the same GPU; and the bf16 artifact compiled with --merge-launches=0
#    (each kernel launched alone), for what merging launches gains;
# 4. bench/gpu/report.py: results.md / results.json in $RESULTS (default
#    BUNDLE/out).
# usage: bench/gpu/run.sh [BUNDLE_DIR]; env RUNS (5), SKIP_CHECK=1
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=${1:-.gpu}
out=${RESULTS:-$bundle/out}
runs=${RUNS:-5}
mkdir -p "$out"
export LD_LIBRARY_PATH=$PWD/$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# cuBLAS: the system's, else the copy PyTorch's CUDA wheels bring.
if ! ldconfig -p | grep -q 'libcublas\.so\.1[23]'; then
  cublas=$(python3 -c 'import glob, os, nvidia.cublas as c
print(sorted(glob.glob(os.path.join(list(c.__path__)[0], "lib", "libcublas.so.1*")))[-1])' 2>/dev/null)
  if [ -n "$cublas" ]; then
    export MODRWKV_LIBCUBLAS=$cublas
    export LD_LIBRARY_PATH=$(dirname "$cublas"):$LD_LIBRARY_PATH
  fi
fi
echo "cuBLAS: ${MODRWKV_LIBCUBLAS:-$(ldconfig -p | grep -o 'libcublas\.so\.1[23]' | head -1)}"
# model.so travels gzipped (bundle.sh).
find "$bundle" -name model.so.gz -exec gunzip -f {} +
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem \
  --format=csv | tee "$out/nvidia-smi.csv"
status=0
if [ -z "${SKIP_CHECK:-}" ]; then
  for case in "$bundle"/check/*; do
    [ -f "$case/multimodal.json" ] && continue # it carries its weights
    python3 test/e2e/gen_checkpoint.py -o "$case/model.pth" $(cat "$case/gen") &&
      python3 bench/gpu/fill_weights.py "$case/model.pth" "$case/artifact" &&
      (cd "$case/artifact" && sha256sum -c ../weights.sha256) || status=1
  done
  PYTHONUNBUFFERED=1 python3 bench/gpu/check.py \
    --lib "$bundle/lib/libmodrwkv_runtime.so" "$bundle"/check/* \
    2>&1 | tee "$out/check.log" || status=1
fi
python3 bench/gpu/probe.py | tee "$out/probe.json" || status=1
shapes=()
for dir in "$bundle"/bench/*-f32; do
  shape=$(basename "$dir" -f32)
  shapes+=("$shape")
  ckpt=/tmp/rwkv7-$shape.pth
  echo "== $shape: checkpoint $(cat "$dir/gen")"
  python3 test/e2e/gen_checkpoint.py -o "$ckpt" $(cat "$dir/gen") || status=1
  for dtype in f32 bf16; do
    art=$bundle/bench/$shape-$dtype/artifact
    echo "== $shape $dtype"
    python3 bench/gpu/fill_weights.py "$ckpt" "$art" &&
      "$bundle/bin/modrwkv-bench" "$art" --decode 32 --prefill 512 \
        --runs "$runs" --batch 64 | tee "$out/$shape-$dtype.bench.json" &&
      MODRWKV_CUBLAS=0 "$bundle/bin/modrwkv-bench" "$art" --decode 8 \
        --prefill 512 --runs "$runs" --batch 64 |
      tee "$out/$shape-$dtype.kernels.bench.json" || status=1
    cp "$art/manifest.json" "$out/$shape-$dtype.manifest.json"
  done
  art=$bundle/bench/$shape-bf16-alone/artifact
  if [ -d "$art" ]; then
    echo "== $shape bf16, each kernel launched alone"
    python3 bench/gpu/fill_weights.py "$ckpt" "$art" &&
      "$bundle/bin/modrwkv-bench" "$art" --decode 32 --prefill 512 \
        --runs "$runs" --batch 64 | tee "$out/$shape-bf16-alone.bench.json" ||
      status=1
    cp "$art/manifest.json" "$out/$shape-bf16-alone.manifest.json"
  fi
  echo "== $shape: PyTorch eager on the GPU"
  python3 bench/torch_baseline.py "$ckpt" --device cuda --decode 32 \
    --prefill 512 --runs "$runs" | tee "$out/$shape-torch.json" || status=1
  rm -f "$ckpt"
done
python3 bench/gpu/report.py "$out" "${shapes[@]}" || status=1
exit $status
