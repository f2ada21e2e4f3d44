#!/usr/bin/env python3
"""--target cuda without a GPU: a generated checkpoint compiles (f32, bf16,
f16 weights; bf16 with the batched decode entry; f32 with each kernel
launched alone, which needs more launches than merged) to an
artifact whose kernels.ptx is PTX for sm_90 (assembled by ptxas when the CUDA
toolkit is installed, else that check is skipped with a message), equal to
--emit ptx, with a manifest kernel table naming every launched kernel; the
runtime refuses it with a clear message when the driver library is missing,
(with the toolkit's stub driver) when there is no device, or when the
driver is the CUDA emulator (which runs --cuda-emulator artifacts only).
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import CUDA_HOME, Checks, find_ptxas, run, workspace  # noqa: E402


def main():
    tool, path = workspace(__doc__)
    check = Checks()
    ckpt = path("model.pth")
    run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), "-o", ckpt,
         "--layers", "2", "--width", "128", "--vocab", "300"])
    # name, compile options, WKV-7 kernels launched alone (one per layer and
    # entry point; merged with independent kernels by default)
    variants = [("f32-alone", ["--dtype", "f32", "--merge-launches=0"], 2),
                ("f32", ["--dtype", "f32"], 0),
                ("bf16", ["--dtype", "bf16"], 0),
                ("f16", ["--dtype", "f16"], 0),
                ("bf16-batch", ["--dtype", "bf16", "--batch-decode"], 0)]
    launches = {}
    for dtype, options, wkv in variants:
        art = path(f"artifact-{dtype}")
        run([tool("modrwkv-compile"), ckpt, "-o", art, "--target", "cuda"]
            + options)
        with open(os.path.join(art, "manifest.json")) as f:
            manifest = json.load(f)
        with open(os.path.join(art, "kernels.ptx")) as f:
            ptx = f.read()
        kernels = manifest.get("kernels", {})
        entries = re.findall(r"\.entry (\w+)\(", ptx)
        check(manifest.get("target") == "cuda" and kernels.get("chip") == "sm_90"
              and ".target sm_90" in ptx,
              f"{dtype}: manifest target cuda, PTX for sm_90")
        check(entries and sorted(entries) == sorted(kernels.get("names", [])),
              f"{dtype}: kernel table = the {len(entries)} .entry kernels of "
              f"kernels.ptx ({kernels.get('launches_per_call')} launches per "
              f"call)")
        # cuBLAS calls: every f32 or bf16 product (per layer r, k, v, o, the
        # FFN's two, the LoRA pairs of w, a, g and, after layer 0, v; the
        # head): 12 + 14 + 1 = 27, a bf16 one as two calls (hi and lo parts
        # of x); f16 products stay kernels.
        calls = {"f32-alone": 27, "f32": 27, "bf16": 54, "f16": None,
                 "bf16-batch": 54}[dtype]
        cublas = kernels.get("cublas", {})
        check(cublas.get("calls_per_call") == calls
              and cublas.get("batch_calls_per_call") == (
                  calls if "--batch-decode" in options else None)
              and (calls is None or cublas.get("min_tokens") == 16),
              f"{dtype}: manifest cuBLAS entry {cublas or 'absent'}")
        # The WKV-7 kernel: one block of 64 threads per head, unless merged.
        check(ptx.count(".maxntid 64, 1, 1") == wkv,
              f"{dtype}: {wkv} 64-thread WKV-7 kernels")
        launches[dtype] = kernels.get("launches_per_call", 0)
        if dtype == "f32":
            # 2 layers: 73 launch sites alone, 38 merged when written.
            check(0 < launches["f32"] <= 0.6 * launches["f32-alone"],
                  f"merged launches: {launches['f32']} per call, "
                  f"{launches['f32-alone']} each alone")
        emitted = path(f"emitted-{dtype}.ptx")
        run([tool("modrwkv-compile"), ckpt, "-o", emitted, "--target", "cuda",
             "--emit", "ptx"] + options)
        with open(emitted) as f:
            check(f.read() == ptx, f"{dtype}: --emit ptx equals kernels.ptx")
        ptxas = find_ptxas()
        if ptxas:
            proc = subprocess.run([ptxas, "-arch=sm_90", os.path.join(
                art, "kernels.ptx"), "-o", path(f"kernels-{dtype}.cubin")],
                capture_output=True, text=True)
            check(proc.returncode == 0,
                  f"{dtype}: ptxas -arch=sm_90 assembles kernels.ptx "
                  f"{proc.stderr.strip()[:200]}")
        else:
            print(f"SKIP {dtype}: ptxas not found (no CUDA toolkit): PTX not "
                  f"assembled")

    art = path("artifact-f32")
    env = dict(os.environ, MODRWKV_LIBCUDA="/nonexistent/libcuda.so.1")
    proc = subprocess.run([tool("modrwkv-run"), art, "--tokens", "1,2"],
                          capture_output=True, text=True, env=env)
    check(proc.returncode == 1 and "this artifact targets CUDA, but the NVIDIA "
          "driver library cannot be loaded" in proc.stderr,
          f"missing driver: exit {proc.returncode}: {proc.stderr.strip()}")
    stub = os.path.join(CUDA_HOME, "lib64", "stubs", "libcuda.so")
    if os.path.exists(stub):
        env = dict(os.environ, MODRWKV_LIBCUDA=stub)
        proc = subprocess.run([tool("modrwkv-run"), art, "--tokens", "1,2"],
                              capture_output=True, text=True, env=env)
        check(proc.returncode == 1 and "cuInit failed" in proc.stderr,
              f"stub driver (no device): exit {proc.returncode}: "
              f"{proc.stderr.strip()}")
    else:
        print("SKIP: no CUDA stub driver to test the no-device message")
    # The CUDA emulator (MODRWKV_LIBCUDA) runs only --cuda-emulator artifacts.
    emulator = os.path.join(tool(os.pardir), "lib",
                            "libmodrwkv_cuda_emulator.so")
    env = dict(os.environ, MODRWKV_LIBCUDA=emulator)
    proc = subprocess.run([tool("modrwkv-run"), art, "--tokens", "1,2"],
                          capture_output=True, text=True, env=env)
    check(proc.returncode == 1 and "MODRWKV_LIBCUDA is the CUDA emulator, "
          "which runs only artifacts compiled with --cuda-emulator"
          in proc.stderr,
          f"PTX artifact on the emulator: exit {proc.returncode}: "
          f"{proc.stderr.strip()}")
    check.expect_error("--cuda-emulator without --target cuda",
                       [tool("modrwkv-compile"), ckpt, "-o", path("emu"),
                        "--cuda-emulator"],
                       "--cuda-emulator needs --target cuda")
    check.expect_error("--emit ptx without --target cuda",
                       [tool("modrwkv-compile"), ckpt, "-o", path("x.ptx"),
                        "--emit", "ptx"], "--emit ptx needs --target cuda")
    check.finish()


if __name__ == "__main__":
    main()
