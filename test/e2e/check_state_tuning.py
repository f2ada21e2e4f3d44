#!/usr/bin/env python3
"""State tuning end to end: the learned initial state of RWKV-PEFT's state
tuning (`blocks.N.att.time_state`, [H, 64 value, 64 key] per layer) where
fresh states start.

A checkpoint with the states merged, a base checkpoint compiled with
`--initial-state` (the slim file state tuning saves), and a plain artifact
given the file at run time (`modrwkv-run --initial-state`) must all match
the float64 reference started from that state (max|err|/std <= 1e-3); a
second file swapped in at run time must match the reference of its state.
Then the errors: files of the wrong shape, with other tensors, or without
states.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference  # noqa: E402
from gen_checkpoint import make_state_dict, save_safetensors  # noqa: E402
from harness import Checks, run, workspace  # noqa: E402

TOLERANCE = 1e-3
LAYERS, WIDTH, VOCAB = 2, 128, 300


def is_state(name):
    return name.endswith(".att.time_state")


def main():
    tool, path = workspace(__doc__)
    tuned = make_state_dict(LAYERS, WIDTH, VOCAB, 4 * WIDTH, (16, 16, 8, 32),
                            11, torch.bfloat16, time_state=True)
    other = make_state_dict(LAYERS, WIDTH, VOCAB, 4 * WIDTH, (16, 16, 8, 32),
                            12, torch.bfloat16, time_state=True)
    base = {k: v for k, v in tuned.items() if not is_state(k)}
    slim = {k: v for k, v in tuned.items() if is_state(k)}
    slim_other = {k: v for k, v in other.items() if is_state(k)}
    torch.save(tuned, path("tuned.pth"))
    torch.save(base, path("base.pth"))
    torch.save(slim, path("state.pth"))
    save_safetensors(slim_other, path("other-state.safetensors"))

    def compile_(name, ckpt, *extra):
        run([tool("modrwkv-compile"), ckpt, "-o", path(name), *extra])
        return path(name)

    merged = compile_("merged", path("tuned.pth"))
    with_file = compile_("with-file", path("base.pth"), "--initial-state",
                         path("state.pth"))
    plain = compile_("plain", path("base.pth"))

    rng = np.random.default_rng(5)
    tokens = [int(t) for t in rng.integers(0, VOCAB, 30)]
    weights = reference.load(path("tuned.pth"))
    want = reference.Rwkv7(weights).run(tokens)[0]
    want_zero = reference.Rwkv7(
        {k: v for k, v in weights.items() if not is_state(k)}).run(tokens)[0]
    with_other = dict(weights)
    with_other.update({k: v.to(torch.float64).numpy()
                       for k, v in slim_other.items()})
    want_other = reference.Rwkv7(with_other).run(tokens)[0]

    check = Checks()

    def logits(art, *extra):
        out = path("logits.npy")
        run([tool("modrwkv-run"), art, "--tokens", ",".join(map(str, tokens)),
             "--logits-out", out, *extra])
        return np.load(out)

    def compare(label, got, ref):
        err = float(np.abs(got - ref).max() / ref.std())
        check(got.shape == ref.shape and err <= TOLERANCE,
              f"{label}: max|err|/std = {err:.2e} (tolerance {TOLERANCE:g})")

    moved = float(np.abs(want - want_zero).max() / want_zero.std())
    print(f"     (information) the learned state moves the logits by "
          f"max|diff|/std = {moved:.2e} from a zero start")
    check(moved > 100 * TOLERANCE, "the state changes the logits well beyond "
          "the tolerance (the checks below can fail)")
    compare("merged checkpoint", logits(merged), want)
    compare("--initial-state at compile time", logits(with_file), want)
    compare("plain artifact, --initial-state at run time",
            logits(plain, "--initial-state", path("state.pth")), want)
    compare("plain artifact, zero start", logits(plain), want_zero)
    compare("another state swapped in at run time (safetensors)",
            logits(merged, "--initial-state", path("other-state.safetensors")),
            want_other)

    # Errors.
    three = dict(slim)
    three["blocks.2.att.time_state"] = slim["blocks.0.att.time_state"]
    torch.save(three, path("three-layers.pth"))
    extra = dict(slim)
    extra["blocks.0.att.w0"] = tuned["blocks.0.att.w0"]
    torch.save(extra, path("extra.pth"))
    gap = {"blocks.0.att.time_state": slim["blocks.0.att.time_state"],
           "blocks.2.att.time_state": slim["blocks.1.att.time_state"]}
    torch.save(gap, path("gap.pth"))
    narrow = {k: v[:1] for k, v in slim.items()}
    torch.save(narrow, path("one-head.pth"))
    compile_base = [tool("modrwkv-compile"), path("base.pth"), "-o",
                    path("bad")]
    check.expect_error("compile: states for 3 layers",
                       compile_base + ["--initial-state",
                                       path("three-layers.pth")],
                       path("three-layers.pth"), "states for 3 layers x 2 heads",
                       "has 2 x 2")
    check.expect_error("compile: a checkpoint as the state file",
                       compile_base + ["--initial-state", path("base.pth")],
                       path("base.pth"), "not a state-tuning file",
                       "'blocks.0.att.time_state'")
    run_plain = [tool("modrwkv-run"), plain, "--tokens", "1"]
    check.expect_error("run: another tensor in the state file",
                       run_plain + ["--initial-state", path("extra.pth")],
                       path("extra.pth"),
                       "unknown tensor 'blocks.0.att.w0'",
                       "in a state-tuning file")
    check.expect_error("run: a layer missing",
                       run_plain + ["--initial-state", path("gap.pth")],
                       path("gap.pth"),
                       "unknown tensor 'blocks.2.att.time_state'")
    check.expect_error("run: states of one head",
                       run_plain + ["--initial-state", path("one-head.pth")],
                       path("one-head.pth"), "initial state of 8192 floats",
                       "2 x 2 x 64 x 64 = 16384")
    check.expect_error("run: missing file",
                       run_plain + ["--initial-state", path("nope.pth")],
                       path("nope.pth"), "cannot open")
    check.finish()


if __name__ == "__main__":
    main()
