#!/usr/bin/env python3
"""End-to-end numerics: generated checkpoint -> modrwkv-compile -> modrwkv-run,
compared with the float64 reference (reference.py).

For one checkpoint shape, checks max|err| / std(ref) <= 1e-3 for one token,
a short and a 200-token sequence, in prefill and --step mode, the last
row alone (--last: the head runs for that token only), and that a
state saved after a prefix and restored gives the same logits as the
uninterrupted run. With --target cuda the artifact runs on the GPU; without
one (no driver, no device) the test exits 77, which ctest reports as
skipped. With --cuda-emulator LIB the cuda artifact's kernels are compiled
for the host and run by the CUDA emulator LIB (as MODRWKV_LIBCUDA) on the
CPU: the whole CUDA path but the PTX, where there is no GPU.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference  # noqa: E402
from harness import run  # noqa: E402

sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "bench", "gpu"))
from runtime import Runtime  # noqa: E402

TOLERANCE = 1e-3
SKIPPED = 77  # ctest's SKIP_RETURN_CODE



def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tools", required=True, help="directory of the binaries")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--format", default="pth", choices=["pth", "safetensors"])
    ap.add_argument("--long", type=int, default=200, help="long sequence length")
    ap.add_argument("--dtype", default="f32",
                    choices=["f32", "bf16", "f16", "i8"],
                    help="weight storage passed to modrwkv-compile")
    ap.add_argument("--i8-min-size", type=int, default=512,
                    help="with --dtype i8: passed to modrwkv-compile")
    ap.add_argument("--target", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--cuda-emulator", metavar="LIB",
                    help="with --target cuda: run on this CUDA emulator "
                    "library (libmodrwkv_cuda_emulator.so)")
    ap.add_argument("--layout", default="released",
                    choices=["released", "fla", "fla-fused"],
                    help="compile the checkpoint in this layout (the "
                    "reference reads the released one)")
    ap.add_argument("gen_args", nargs=argparse.REMAINDER,
                    help="arguments for gen_checkpoint.py (after --)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    tool = lambda name: os.path.join(args.tools, name)
    ckpt = os.path.join(args.workdir, "model." + args.format)
    art = os.path.join(args.workdir, "artifact")
    gen_args = [a for a in args.gen_args if a != "--"]
    run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), "-o", ckpt]
        + gen_args)
    compiled = ckpt
    if args.layout != "released":
        compiled = os.path.join(args.workdir, f"model-{args.layout}.{args.format}")
        run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), "-o",
             compiled, "--layout", args.layout] + gen_args)
    emulated = []
    if args.cuda_emulator:
        emulated = ["--cuda-emulator", "--batch-decode"]
        os.environ["MODRWKV_LIBCUDA"] = args.cuda_emulator
    run([tool("modrwkv-compile"), compiled, "-o", art, "--dtype", args.dtype,
         "--target", args.target, "--i8-min-size", str(args.i8_min_size)]
        + emulated)
    if args.target == "cuda":
        probe = subprocess.run([tool("modrwkv-run"), art, "--tokens", "0"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"SKIP: this test needs an NVIDIA GPU: "
                  f"{probe.stderr.strip()}")
            sys.exit(SKIPPED)
    tolerance = TOLERANCE

    weights = reference.load(ckpt)
    unrounded = None
    if args.dtype != "f32":
        # --dtype bf16/f16 stores the matrices of products and the embedding
        # in that type (round to nearest even), i8 the large ones as int8
        # with a scale per row: the reference uses the same values.
        unrounded = reference.Rwkv7(dict(weights))
        weights = (reference.quantize_matrices(weights, args.i8_min_size)
                   if args.dtype == "i8"
                   else reference.round_matrices(weights, args.dtype))
    model = reference.Rwkv7(weights)
    rng = np.random.default_rng(1234)
    sequences = {
        "one token": [int(rng.integers(model.vocab))],
        "short": [int(t) for t in rng.integers(0, model.vocab, 7)],
        f"{args.long} tokens": [int(t) for t in rng.integers(0, model.vocab, args.long)],
    }
    failures = 0

    def compare(label, got, ref):
        nonlocal failures
        err = float(np.abs(got - ref).max() / ref.std())
        ok = got.shape == ref.shape and err <= tolerance
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label}: shape {got.shape}, "
              f"max|err|/std = {err:.2e} (tolerance {tolerance:g})")

    def logits(tokens, *extra):
        out = os.path.join(args.workdir, "logits.npy")
        run([tool("modrwkv-run"), art, "--tokens", ",".join(map(str, tokens)),
             "--logits-out", out] + list(extra))
        return np.load(out)

    if unrounded is not None:
        tokens = sequences[f"{args.long} tokens"]
        ref, _ = model.run(tokens)
        full, _ = unrounded.run(tokens)
        print(f"     (information) {args.dtype} rounding of this checkpoint's matrices "
              f"moves the {len(tokens)}-token logits by max|diff|/std = "
              f"{np.abs(ref - full).max() / full.std():.2e}")
    for name, tokens in sequences.items():
        ref, _ = model.run(tokens)
        compare(f"{name}, prefill", logits(tokens), ref)
        compare(f"{name}, --step", logits(tokens, "--step"), ref)
        compare(f"{name}, prefill --last", logits(tokens, "--last"), ref[-1:])

    # CUDA: products of f32 or bf16 weights over many tokens run through
    # cuBLAS (on the emulator, its stand-in), others as generated kernels;
    # MODRWKV_CUBLAS=0, a threshold above the sequence, or a library that
    # cannot be loaded (with a notice) run every product as a kernel. The
    # runtime's profile names the calls it made.
    def logits_with(env, tokens, *extra):
        out = os.path.join(args.workdir, "logits.npy")
        cmd = [tool("modrwkv-run"), art, "--tokens",
               ",".join(map(str, tokens)), "--logits-out", out] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, **env})
        if proc.returncode != 0:
            sys.exit(f"FAILED: {' '.join(cmd)}\n{proc.stderr}")
        return np.load(out), proc.stderr

    if args.target == "cuda":
        tokens = sequences[f"{args.long} tokens"]
        ref, _ = model.run(tokens)
        library = args.dtype in ("f32", "bf16")
        for label, env, want in (
                ("default", {}, library),
                ("MODRWKV_CUBLAS=0", {"MODRWKV_CUBLAS": "0"}, False),
                (f"MODRWKV_CUBLAS_MIN_TOKENS={len(tokens) + 1}",
                 {"MODRWKV_CUBLAS_MIN_TOKENS": str(len(tokens) + 1)}, False),
                ("no cuBLAS library",
                 {"MODRWKV_LIBCUBLAS": "/nonexistent/libcublas.so"}, False)):
            got, stderr = logits_with({"MODRWKV_CUDA_PROFILE": "1", **env},
                                      tokens)
            compare(f"{name}, prefill, {label}", got, ref)
            used = "cublasGemmEx" in stderr
            # A GPU machine without cuBLAS runs kernels (with a notice).
            ok = used == want or (not args.cuda_emulator and not used)
            if "MODRWKV_LIBCUBLAS" in env and library:
                ok = ok and "cuBLAS is not used (cannot load it" in stderr
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {label}: cuBLAS "
                  f"{'ran' if used else 'did not run'} "
                  f"(expected {'to run' if want else 'not to run'})")
        # One-token calls on the library path: cuBLAS inside the captured
        # decode graphs (the profile would turn graphs off). The first call
        # is captured: cuBLAS must have started before it, when the
        # artifact was loaded (the emulator, like the driver, refuses
        # cuBLAS' start-up inside a capture).
        tokens = sequences["short"]
        got, stderr = logits_with({"MODRWKV_CUBLAS_MIN_TOKENS": "1"}, tokens,
                                  "--step")
        compare("short, --step, MODRWKV_CUBLAS_MIN_TOKENS=1 (cuBLAS in "
                "the decode graph)", got, model.run(tokens)[0])
        ok = not library or "cuBLAS is not used" not in stderr
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} cuBLAS started outside the "
              f"decode graph's capture {stderr.strip()[:200]}")

    # Threads take disjoint rows of each product, every sum is computed as
    # on one thread: 1 and 2 threads give identical logits.
    with open(os.path.join(art, "manifest.json")) as f:
        threads = json.load(f).get("threads")
    if threads == "openmp":
        tokens = sequences[f"{args.long} tokens"]
        same = np.array_equal(logits(tokens, "--threads", "1"),
                              logits(tokens, "--threads", "2"))
        failures += not same
        print(f"{'ok  ' if same else 'FAIL'} --threads 1 and --threads 2 "
              f"give identical logits")
    else:
        print(f"     (information) artifact threads: {threads}, thread "
              f"check skipped (compiler built without libomp)")

    # Save after a prefix, restore, continue: same as the uninterrupted run.
    tokens = sequences["short"] + sequences[f"{args.long} tokens"][:20]
    ref, _ = model.run(tokens)
    state = os.path.join(args.workdir, "prefix.state")
    split = 9
    logits(tokens[:split], "--state-out", state)
    # The file's WKV block is S[layer][head][value i][key j] (runtime.h).
    _, ref_state = model.run(tokens[:split])
    L, C, H, N = model.L, model.C, model.H, model.N
    raw = np.fromfile(state, dtype=np.float32, offset=56)
    wkv = raw[2 * L * C:2 * L * C + L * H * N * N].reshape(L, H, N, N)
    scale = np.abs(ref_state["wkv"]).max()
    for label, got in (("S[value][key]", wkv), ("transposed", wkv.swapaxes(2, 3))):
        print(f"     saved WKV state as {label}: max|err| = "
              f"{np.abs(got - ref_state['wkv']).max() / scale:.2e} of max|S|")
    layout_err = float(np.abs(wkv - ref_state["wkv"]).max() / scale)
    ok = layout_err <= tolerance
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} saved state layout S[value][key] "
          f"matches the reference state")
    resumed = logits(tokens[split:], "--state-in", state)
    full = logits(tokens)
    compare("restored state vs reference", resumed, ref[split:])
    diff = float(np.abs(resumed - full[split:]).max())
    ok = diff <= 1e-5 * float(np.abs(full).max())
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} restored state vs uninterrupted run: "
          f"max|diff| = {diff:.2e}")

    # Batched decode (artifacts with its entry): three prompts of different
    # lengths prefilled alone, put into slots, and a slot left fresh, then
    # advanced together; each slot's logits against the reference run of
    # its whole sequence.
    with open(os.path.join(art, "manifest.json")) as f:
        batched = "batch_entry" in json.load(f)
    if batched:
        lib = os.path.join(args.tools, os.pardir, "lib", "libmodrwkv_runtime.so")
        runtime = Runtime(lib).load(art)
        prompts = [sequences["short"], sequences["one token"],
                   sequences[f"{args.long} tokens"][:23], []]
        steps = [[int(t) for t in rng.integers(0, model.vocab, len(prompts))]
                 for _ in range(3)]
        got = runtime.batch_of(prompts).decode_steps(steps)
        want = np.stack([
            model.run(prompt + [step[slot] for step in steps])[0][len(prompt):]
            for slot, prompt in enumerate(prompts)])
        compare(f"batched decode, {len(prompts)} slots x {len(steps)} steps",
                got, want)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
