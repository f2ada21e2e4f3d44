#!/usr/bin/env bash
# Packs what the GPU machine needs to run bench/gpu/run.sh there, where the
# compiler (LLVM/MLIR) is absent: the runtime library and modrwkv-bench, the
# numerics cases and the benchmark artifacts (compiled --target cuda). No
# weights travel (the device tool carries 64 MB; model.so embeds the PTX, so
# kernels.ptx stays behind too): each directory keeps the
# gen_checkpoint.py arguments (`gen`), and run.sh regenerates the checkpoint
# there and writes weights.bin with fill_weights.py; for the numerics cases
# the file must match the compiler's (`weights.sha256`). Artifacts carry
# the batched decode entry (--batch-decode) and their model.so travels
# gzipped (run.sh unpacks it): with both entries it doubles in size. Each
# shape has f32 and bf16 artifacts, and bf16 compiled with
# --merge-launches=0 (each kernel launched alone).
# usage: bench/gpu/bundle.sh [BUILD_DIR] [BUNDLE_DIR]; env SHAPES (default
# "0.1B 1.5B"), CHIP (sm_90). With SHAPES=0.1B the bundle is 6 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
bundle=${2:-.gpu}
py=.venv/bin/python
shapes=${SHAPES:-"0.1B 1.5B"}
chip=${CHIP:-sm_90}
work=$build/bench/gpu
rm -rf "$bundle"
mkdir -p "$bundle/lib" "$bundle/bin" "$bundle/check" "$bundle/bench" "$work"
cp "$build/lib/libmodrwkv_runtime.so" "$bundle/lib/"
cp "$build/bin/modrwkv-bench" "$bundle/bin/"

compile() { # CKPT ARTIFACT [modrwkv-compile options]
  local ckpt=$1 art=$2
  shift 2
  "$build/bin/modrwkv-compile" "$ckpt" -o "$art" --target cuda --chip "$chip" \
    --batch-decode "$@" && gzip -f "$art/model.so"
}

# name | gen_checkpoint.py arguments | modrwkv-compile arguments
while IFS='|' read -r name gen opts; do
  case=$bundle/check/$name
  mkdir -p "$case"
  echo "$gen" > "$case/gen"
  $py test/e2e/gen_checkpoint.py -o "$work/$name.pth" $gen
  compile "$work/$name.pth" "$case/artifact" $opts
  (cd "$case/artifact" && sha256sum weights.bin > ../weights.sha256)
  rm "$case/artifact/weights.bin" "$case/artifact/kernels.ptx"
done <<'CASES'
f32-2x128|--layers 2 --width 128 --vocab 300 --seed 7|
bf16-3x128|--layers 3 --width 128 --vocab 500 --ranks 5,7,3,9 --seed 5|--dtype bf16
f32-2x512|--layers 2 --width 512 --vocab 2000 --seed 11|
fp32ckpt-bf16-4x256|--layers 4 --width 256 --vocab 1000 --dtype fp32 --seed 3|--dtype bf16
CASES
# A ModRWKV model with its image graph; small enough to carry its weights.
$py bench/gpu/multimodal_case.py "$bundle/check/multimodal" \
  --tools "$build/bin" --chip "$chip"
gzip -f "$bundle/check/multimodal/artifact/model.so"
rm "$bundle/check/multimodal/artifact/kernels.ptx"

for shape in $shapes; do
  case $shape in
    0.1B) gen="--layers 12 --width 768 --vocab 65536 --ranks 64,64,32,128" ;;
    0.4B) gen="--layers 24 --width 1024 --vocab 65536 --ranks 64,64,32,128" ;;
    1.5B) gen="--layers 24 --width 2048 --vocab 65536 --ranks 96,96,64,256" ;;
    *) echo "unknown shape $shape" >&2; exit 1 ;;
  esac
  ckpt=$work/rwkv7-$shape.pth
  [ -f "$ckpt" ] || $py test/e2e/gen_checkpoint.py -o "$ckpt" $gen
  pids=()
  for dtype in f32 bf16; do # both at once: 1.5B takes minutes and 10 GB each
    art=$bundle/bench/$shape-$dtype
    mkdir -p "$art"
    echo "$gen" > "$art/gen"
    (compile "$ckpt" "$art/artifact" --dtype $dtype &&
      rm "$art/artifact/weights.bin" "$art/artifact/kernels.ptx") &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  # bf16 with every kernel launched alone: what merging launches gains.
  art=$bundle/bench/$shape-bf16-alone
  mkdir -p "$art"
  echo "$gen" > "$art/gen"
  compile "$ckpt" "$art/artifact" --dtype bf16 --merge-launches=0 &&
    rm "$art/artifact/weights.bin" "$art/artifact/kernels.ptx"
done
du -sh "$bundle"
