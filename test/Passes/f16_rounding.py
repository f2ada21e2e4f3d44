"""rwkv-weight-dtype=dtype=f16 against numpy's float32 -> float16 cast (round
to nearest even) on a million weights: ties, subnormals, the edges of the
range, NaN and infinities, random bit patterns and weight-like values. Also
writes the module whose weight is beyond f16's range for the error check.

usage: f16_rounding.py WORKDIR (modrwkv-opt on PATH)"""
import os
import re
import subprocess
import sys

import numpy as np

ROWS, COLS = 1024, 1024


def module(values):
    blob = "0x04000000" + values.astype("<f4").tobytes().hex().upper()
    return f"""func.func @f(%x: tensor<?x{COLS}xf32>) -> tensor<?x{ROWS}xf32> {{
  %w = arith.constant dense_resource<w> : tensor<{ROWS}x{COLS}xf32>
  %y = rwkv.linear %x, %w : tensor<?x{COLS}xf32>, tensor<{ROWS}x{COLS}xf32> -> tensor<?x{ROWS}xf32>
  return %y : tensor<?x{ROWS}xf32>
}}
{{-#
  dialect_resources: {{ builtin: {{ w: "{blob}" }} }}
#-}}
"""


def values():
    rng = np.random.default_rng(7)
    f16_max = 65504.0
    special = np.array(
        [0.0, -0.0, 1.0, -2.0, f16_max, -f16_max,
         np.nextafter(np.float32(65520.0), np.float32(0)),  # last below inf
         2.0**-24, 2.0**-25, 3 * 2.0**-25, 2.0**-26, 2.0**-14,
         np.nextafter(np.float32(2.0**-14), np.float32(0)),
         1.5 * 2.0**-24, 2.5 * 2.0**-24, 1e-45, -1e-45,
         np.inf, -np.inf, np.nan], np.float32)
    # Every tie between neighbouring finite f16 values (exact in f32).
    halves = np.arange(0, 0x7bff, dtype=np.uint16)
    lo = halves.view(np.float16).astype(np.float64)
    hi = (halves + 1).view(np.float16).astype(np.float64)
    ties = ((lo + hi) / 2).astype(np.float32)
    ties = np.concatenate([ties, -ties])
    bits = rng.integers(0, 2**32, 400_000, dtype=np.uint64).astype(np.uint32)
    bits = bits[(bits & 0x7FFFFFFF) < 0x477FF000]  # below the rounding to inf
    weights = rng.normal(0, 0.05, 300_000).astype(np.float32)
    v = np.concatenate([special, ties, bits.view(np.float32), weights])
    fill = rng.uniform(-4, 4, ROWS * COLS - v.size).astype(np.float32)
    return np.concatenate([v, fill])


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    v = values()
    src = os.path.join(work, "rounding.mlir")
    with open(src, "w") as f:
        f.write(module(v))
    out = subprocess.run(["modrwkv-opt", src, "--rwkv-weight-dtype=dtype=f16"],
                         capture_output=True, text=True, check=True).stdout
    assert f"tensor<{ROWS}x{COLS}xf16>" in out, "the weight is not f16"
    hexblob = re.search(r'w\.f16: "0x02000000([0-9A-F]*)"', out).group(1)
    got = np.frombuffer(bytes.fromhex(hexblob), "<u2")
    want = v.astype(np.float16).view(np.uint16)
    nan = np.isnan(v)
    assert np.array_equal(np.isnan(got.view(np.float16)), nan), "NaN mismatch"
    bad = np.flatnonzero(got[~nan] != want[~nan])
    if bad.size:
        i = bad[0]
        sys.exit(f"{bad.size} of {v.size} values differ from numpy; first: "
                 f"{v[~nan][i]!r} -> 0x{got[~nan][i]:04x}, numpy 0x{want[~nan][i]:04x}")
    print(f"f16 rounding: {v.size} values match numpy bit for bit "
          f"({nan.sum()} NaN)")

    big = v.copy()
    big[np.isnan(big) | np.isinf(big)] = 0
    big[12345] = 70000.0
    with open(os.path.join(work, "beyond-range.mlir"), "w") as f:
        f.write(module(big))


if __name__ == "__main__":
    main()
