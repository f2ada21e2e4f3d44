#!/bin/bash
# Generates ONNX's backend node tests with Debian's python3-onnx (1.12) into
# $1 (not committed: it is made at test time). The numpy aliases let 1.12's
# generators run on numpy 1.24.
set -euo pipefail
out=$1
rm -rf "$out"
/usr/bin/python3 - "$out" <<'PY'
import sys
import numpy as np
for alias, target in [("float", float), ("int", int), ("bool", bool),
                      ("object", object), ("complex", complex), ("str", str)]:
    setattr(np, alias, target)
from onnx.backend.test.cmd_tools import main
out = sys.argv[1]
sys.argv = ["generate", "generate-data", "-o", out]
main()
PY
test -d "$out/node"
