#!/usr/bin/env bash
# Decode speed with a Bone adapter merged at compile time vs applied at run
# time (the swappable form), same checkpoint and adapter, in one run.
# usage: bench/bone.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$build/bench/bone
mkdir -p "$work"
py=.venv/bin/python
$py test/e2e/gen_checkpoint.py -o "$work/base.pth" --layers 6 --width 512 \
  --vocab 65536 --ranks 32,32,16,64
$py - "$work" <<'PY'
import sys
sys.path.insert(0, "test/e2e")
import bone_reference, reference
work = sys.argv[1]
base = reference.load(f"{work}/base.pth")
tensors, _ = bone_reference.make_adapter(base, "rwkv-peft", "bone", 64, seed=1)
bone_reference.save(tensors, "rwkv-peft", "bone", 64, f"{work}/bone.pth")
PY
for mode in merged unmerged; do
  extra=""
  [ $mode = merged ] && extra=--merge-adapter
  $build/bin/modrwkv-compile "$work/base.pth" --adapter "$work/bone.pth" \
    $extra -o "$work/$mode" >/dev/null
done
tokens=$(seq -s, 1 64)
for mode in merged unmerged; do
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e" $build/bin/modrwkv-run "$work/$mode" --tokens "$tokens" \
      --step 2>&1 >/dev/null | tail -1
  done | sort -n | awk -v m=$mode '{v[NR]=$1} END {printf "%-9s decode: median %.2f s for 64 tokens = %.1f tokens/s (5 runs)\n", m, v[3], 64 / v[3]}'
done
