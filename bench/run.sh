#!/usr/bin/env bash
# CPU benchmark (issue 8): on this machine, in one run,
# - probes the read bandwidth and the fp32 FMA peak (bench/probes.c), once
#   at the start and again right before and after each artifact's runs (this
#   machine's speed drifts by 30% over minutes: each row is compared with the
#   better of the probes taken beside it);
# - generates random checkpoints of the released 0.1B (12 x 768) and 0.4B
#   (24 x 1024) shapes (vocab 65536, bf16), compiles each with f32, bf16,
#   f16 and i8 weight storage (time, peak RSS);
# - measures decode (batch 1) and prefill (512 tokens) tokens/s, medians of
#   RUNS runs after a warm-up, in process (modrwkv-bench);
# - runs the PyTorch float32 baseline (bench/torch_baseline.py) on the same
#   checkpoints;
# and writes $BUILD/bench/run/results.{md,json}. Debian's torch calls the
# system BLAS: with only the reference libblas3 its products are very slow;
# `apt-get install libopenblas0-pthread` gives the baseline OpenBLAS.
# usage: bench/run.sh [BUILD_DIR]; env RUNS (default 5), SHAPES ("0.1B 0.4B"),
# DTYPES ("f32 bf16 f16 i8")
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$build/bench/run
mkdir -p "$work"
rm -f "$work"/*.bench.json "$work"/*.compile.json "$work"/*-torch.json \
  "$work"/*.probes-*.json
py=.venv/bin/python
runs=${RUNS:-5}
shapes=${SHAPES:-"0.1B 0.4B"}
dtypes=${DTYPES:-"f32 bf16 f16 i8"}

cc -O3 -march=native -fopenmp bench/probes.c -o "$work/probes"
"$work/probes" > "$work/probes.json"
cat "$work/probes.json"

for shape in $shapes; do
  case $shape in
    0.1B) layers=12 width=768 ;;
    0.4B) layers=24 width=1024 ;;
    *) echo "unknown shape $shape" >&2; exit 1 ;;
  esac
  ckpt=$work/rwkv7-$shape.pth
  [ -f "$ckpt" ] || $py test/e2e/gen_checkpoint.py -o "$ckpt" --layers $layers \
    --width $width --vocab 65536 --ranks 64,64,32,128
  for dtype in $dtypes; do
    art=$work/$shape-$dtype
    echo "== $shape $dtype: compile"
    /usr/bin/time -f '{"compile_s": %e, "compile_rss_kb": %M}' -o "$art.compile.json" \
      "$build/bin/modrwkv-compile" "$ckpt" -o "$art" --dtype $dtype
    echo "== $shape $dtype: run"
    "$work/probes" > "$art.probes-before.json"
    "$build/bin/modrwkv-bench" "$art" --decode 32 --prefill 512 --runs "$runs" \
      --batch 8,64 > "$art.bench.json"
    "$work/probes" > "$art.probes-after.json"
    cat "$art.bench.json"
  done
  echo "== $shape: PyTorch baseline"
  $py bench/torch_baseline.py "$ckpt" --decode 32 --prefill 512 --runs "$runs" \
    > "$work/$shape-torch.json"
  cat "$work/$shape-torch.json"
done
$py bench/report.py "$work" $shapes
