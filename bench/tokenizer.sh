#!/usr/bin/env bash
# Tokenizer encode speed (issue target: >= 50 MB/s on the 2-core machine).
# Generates 64 MiB of mixed multilingual text and code (fixed seed), encodes
# it 5 times with modrwkv-tokenize --stats and prints the median.
# usage: bench/tokenizer.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$build/bench
mkdir -p "$work"
python=.venv/bin/python
[ -x "$python" ] || python=python3
"$python" - "$work/text.txt" <<'PY'
import random, sys
random.seed(0)
parts = ["The quick brown fox jumps over the lazy dog. ",
         "def f(x):\n    return x * 2\n", "你好，世界！这是一个测试。",
         "Привет, мир! ", "Ελληνικά κείμενα. ", "ٱلْعَرَبِيَّة ",
         "日本語のテキスト。", "🙂👍🚀 ", "    indented code\n", "1234567890 ",
         "\t\n\n"]
out, size = [], 0
while size < 64 << 20:
    p = random.choice(parts)
    out.append(p)
    size += len(p.encode())
open(sys.argv[1], "w").write("".join(out))
PY
for i in 1 2 3 4 5; do
  "$build/bin/modrwkv-tokenize" --stats < "$work/text.txt" 2>&1 >/dev/null |
    sed -n 's/.*: \([0-9.]*\) MB\/s/\1/p'
done | sort -n | awk '{v[NR]=$1} END {printf "tokenizer encode: median %.1f MB/s over %d runs (min %.1f, max %.1f)\n", v[int((NR+1)/2)], NR, v[1], v[NR]}'
