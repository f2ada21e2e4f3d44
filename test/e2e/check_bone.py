#!/usr/bin/env python3
"""Bone adapters end to end: random RWKV-7 checkpoint + random adapters in
both layouts (RWKV-PEFT .pth, Hugging Face PEFT folder) and both variants,
compiled merged (--merge-adapter) and unmerged (also with bf16 storage),
compared with the float64 reference forward pass on the merged weights
(max|err|/std <= 1e-3);
an unmerged artifact runs another adapter with --adapter; bad adapters are
clear errors naming the tensor."""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bone_reference as bone  # noqa: E402
import reference  # noqa: E402
from harness import Checks, run  # noqa: E402

TOLERANCE = 1e-3


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    check = Checks()
    os.makedirs(args.workdir, exist_ok=True)
    tool = lambda name: os.path.join(args.tools, name)
    w = lambda name: os.path.join(args.workdir, name)

    ckpt = w("base.pth")
    run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), "-o", ckpt,
         "--layers", "2", "--width", "128", "--vocab", "300", "--seed", "4"])
    base = reference.load(ckpt)
    tokens = [int(t) for t in np.random.default_rng(2).integers(0, 300, 24)]

    def logits(art, *extra):
        out = w("logits.npy")
        run([tool("modrwkv-run"), art, "--tokens", ",".join(map(str, tokens)),
             "--logits-out", out, *extra])
        return np.load(out)

    def expected(merged):
        ref, _ = reference.Rwkv7(merged).run(tokens)
        return ref

    def compare(label, got, ref):
        err = float(np.abs(got - ref).max() / ref.std())
        check(err <= TOLERANCE, f"{label}: max|err|/std = {err:.2e}")

    # rank 24 does not divide 128 (a partial shard); bat needs r | 128, 512.
    cases = [("rwkv-peft", "bone", 24), ("rwkv-peft", "bat", 32),
             ("hf", "bone", 24), ("hf", "bat", 32)]
    arts, made = {}, {}
    for layout, variant, rank in cases:
        tensors, merged = bone.make_adapter(base, layout, variant, rank, seed=rank)
        name = f"{layout}-{variant}"
        path = bone.save(tensors, layout, variant, rank,
                         w(name + (".pth" if layout == "rwkv-peft" else "")))
        ref = expected(merged)
        made[name] = (path, merged)
        for mode in ("merged", "unmerged"):
            art = w(f"{name}-{mode}")
            run([tool("modrwkv-compile"), ckpt, "-o", art, "--adapter", path]
                + (["--merge-adapter"] if mode == "merged" else []))
            compare(f"{name} r={rank} {mode}", logits(art), ref)
            arts[(name, mode)] = art
        compare(f"{name} unmerged, --step", logits(arts[(name, "unmerged")], "--step"), ref)
        # Merging changed the logits: the adapter is not a no-op.
        base_ref = expected(base)
        check(np.abs(ref - base_ref).max() / base_ref.std() > 1e-2,
              f"{name}: the adapter changes the model")

    # bf16 storage of the bf16 checkpoint: unmerged, the adapted weights
    # stay f32 (the adapter math reads them so) and every other matrix is
    # the checkpoint's own bf16; merged, the merged weights round to bf16.
    path, merged = made["rwkv-peft-bone"]
    for mode in ("merged", "unmerged"):
        art = w(f"rwkv-peft-bone-{mode}-bf16")
        run([tool("modrwkv-compile"), ckpt, "-o", art, "--adapter", path,
             "--dtype", "bf16"]
            + (["--merge-adapter"] if mode == "merged" else []))
        ref = expected(reference.round_matrices(merged, "bf16")
                       if mode == "merged" else merged)
        compare(f"rwkv-peft-bone {mode}, --dtype bf16", logits(art), ref)

    # Swap: the artifact compiled with one adapter runs another.
    tensors, merged = bone.make_adapter(base, "rwkv-peft", "bone", 24, seed=99)
    other = bone.save(tensors, "rwkv-peft", "bone", 24, w("other-bone.pth"))
    compare("rwkv-peft-bone artifact with --adapter other-bone.pth",
            logits(arts[("rwkv-peft-bone", "unmerged")], "--adapter", other),
            expected(merged))

    # Bad adapters: a valid layer-0 adapter with one tensor added or the
    # file saved under a different variant.
    def bad_adapter(label, file, layout, variant, rank, extra, saved_as, *fragments):
        t, _ = bone.make_adapter(base, layout, variant, rank, seed=1, layers=[0])
        t.update(extra)
        path = bone.save(t, layout, saved_as, rank, w(file))
        check.expect_error(label, [tool("modrwkv-compile"), ckpt, "-o", w("x"),
                                   "--adapter", path], *fragments)

    bad_adapter("bat rank that does not divide the weight", "bad-rank.pth",
                "rwkv-peft", "bat", 32,
                {"blocks.0.att.key.disha": np.zeros((128 // 48, 48, 48), np.float32)},
                "bat", "blocks.0.att.key.disha", "not divisible")
    bad_adapter("adapter for a tensor the model lacks", "missing-layer.pth",
                "rwkv-peft", "bone", 8,
                {"blocks.5.att.key.disha": np.zeros((8, 128), np.float32)},
                "bone", "blocks.5.att.key.weight", "does not have")
    bad_adapter("variant other than adapter_config.json says", "wrong-variant",
                "hf", "bone", 8, {}, "bat", "bone_block", "init_weights = bat")
    bad_adapter("Bone on an unsupported projection", "lora-target.pth",
                "rwkv-peft", "bone", 8,
                {"blocks.0.att.w1.disha": np.zeros((8, 16), np.float32)},
                "bone", "blocks.0.att.w1", "not supported")
    check.expect_error("--adapter on a merged artifact",
                       [tool("modrwkv-run"), arts[("rwkv-peft-bone", "merged")],
                        "--tokens", "1", "--adapter", other], "no adapter to swap")
    check.expect_error("--adapter of another variant",
                       [tool("modrwkv-run"), arts[("rwkv-peft-bat", "unmerged")],
                        "--tokens", "1", "--adapter", other], "is bone")

    check.finish()


if __name__ == "__main__":
    main()
