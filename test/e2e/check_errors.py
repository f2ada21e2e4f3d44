#!/usr/bin/env python3
"""Corrupt and wrong inputs give a clear error and exit status 1, never a
crash or a silent success.

Builds a corpus from one valid generated checkpoint (truncated zips, a wrong
storage dtype tag, a bad pickle opcode, misshaped / missing / unknown
tensors, an RWKV-6 checkpoint, broken safetensors headers, ...), runs
modrwkv-compile (and modrwkv-run for runtime errors) on each, and checks the
exit status and that the message names the file and the culprit.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_checkpoint  # noqa: E402
from harness import Checks  # noqa: E402


def rewrite_zip_entry(src, dst, suffix, transform):
    """Copies zip `src` to `dst`, passing the entry ending in `suffix`
    through `transform` (entries stay stored, like torch.save's)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(suffix):
                data = transform(data)
            zout.writestr(info, data)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    w = lambda name: os.path.join(args.workdir, name)
    compile_tool = os.path.join(args.tools, "modrwkv-compile")
    run_tool = os.path.join(args.tools, "modrwkv-run")

    sd = gen_checkpoint.make_state_dict(2, 64, 40, 256, (3, 5, 2, 7), 0,
                                        torch.bfloat16)
    valid = w("valid.pth")
    torch.save(sd, valid)
    with open(valid, "rb") as f:
        valid_bytes = f.read()
    cases = []  # (name, command, [expected fragments])

    def corpus(name, data, *fragments, tool_args=()):
        path = w(name)
        with open(path, "wb") as f:
            f.write(data)
        cases.append((name, [compile_tool, path, "-o", w(name + ".out"),
                             *tool_args], [path, *fragments]))
        return path

    def variant(name, change, *fragments, base=sd):
        changed = dict(base)
        change(changed)
        path = w(name)
        torch.save(changed, path)
        cases.append((name, [compile_tool, path, "-o", w(name + ".out")],
                      [path, *fragments]))

    # Files that are not checkpoints at all.
    cases.append(("missing file", [compile_tool, w("nope.pth"), "-o", w("x")],
                  [w("nope.pth"), "cannot open"]))
    corpus("empty.pth", b"", "not a PyTorch .pth")
    corpus("text.pth", b"hello, world\n" * 10, "not a PyTorch .pth")
    # Truncated zips: the directory at the end is gone.
    for cut in (100, len(valid_bytes) // 2, len(valid_bytes) - 10):
        corpus(f"truncated-{cut}.pth", valid_bytes[:cut], "zip archive")
    def zip_edit(name, entry, transform, *fragments):
        path = w(name)
        rewrite_zip_entry(valid, path, entry, transform)
        cases.append((name, [compile_tool, path, "-o", w(name + ".out")],
                      [path, *fragments]))

    # Wrong storage dtype tag and a bad pickle opcode inside data.pkl.
    zip_edit("bad-dtype.pth", "data.pkl",
             lambda d: d.replace(b"BFloat16Storage", b"DoubleStorage"),
             "torch.DoubleStorage")
    zip_edit("bad-opcode.pth", "data.pkl", lambda d: d[:2] + b"\xff" + d[3:],
             "unsupported pickle opcode 0xff")
    zip_edit("bad-global.pth", "data.pkl",
             lambda d: d.replace(b"_rebuild_tensor_v2", b"_rebuild_tensor_v9"),
             "unsupported callable torch._utils._rebuild_tensor_v9")
    zip_edit("short-storage.pth", "data/0", lambda d: d[: len(d) // 2],
             "storage '0' holds 2560 bytes", "need 5120")

    # Well-formed files with the wrong tensors.
    def reshape(d):
        d["blocks.1.att.key.weight"] = torch.zeros(64, 32, dtype=torch.bfloat16)
    variant("shape.pth", reshape, "'blocks.1.att.key.weight' has shape [64, 32], expected [64, 64]")
    variant("missing.pth", lambda d: d.pop("blocks.1.ffn.value.weight"),
            "missing tensor 'blocks.1.ffn.value.weight'")
    variant("unknown.pth",
            lambda d: d.__setitem__("blocks.0.att.extra", torch.zeros(3)),
            "unknown tensor 'blocks.0.att.extra'")
    def rwkv6(d):
        d["blocks.0.att.time_decay"] = d.pop("blocks.0.att.r_k")
    variant("rwkv6.pth", rwkv6, "not an RWKV-7 (x070) checkpoint", "time_decay")
    def head32(d):
        d["blocks.0.att.r_k"] = torch.zeros(2, 32, dtype=torch.bfloat16)
    variant("head32.pth", head32, "head size 32")
    def not_tensor(d):
        d["blocks.0.att.k_k"] = 3
    variant("not-tensor.pth", not_tensor, "'blocks.0.att.k_k'", "not a tensor")
    # flash-linear-attention's layout: names it does not have, a bad x_x.
    fla = gen_checkpoint.to_fla(sd, fuse_mixes=True)
    fla_variant = lambda *a: variant(*a, base=fla)
    fla_variant("fla-unknown.pth",
                lambda d: d.__setitem__("model.layers.1.attn.q_proj.weight",
                                        torch.zeros(64, 64)),
                "unknown tensor 'model.layers.1.attn.q_proj.weight'",
                "flash-linear-attention")
    fla_variant("fla-x_x.pth",
                lambda d: d.__setitem__("model.layers.0.attn.x_x",
                                        torch.zeros(5, 64)),
                "'model.layers.0.attn.x_x' has shape [5, 64], expected [6, C]")
    fla_variant("fla-missing.pth",
                lambda d: d.pop("model.layers.1.attn.k_proj.weight"),
                "missing tensor 'blocks.1.att.key.weight'")

    # State tuning: a learned initial state in every layer, [H, 64, 64].
    variant("state-one-layer.pth",
            lambda d: d.__setitem__("blocks.0.att.time_state",
                                    torch.zeros(1, 64, 64)),
            "missing tensor 'blocks.1.att.time_state'")
    variant("state-late-layer.pth",
            lambda d: d.__setitem__("blocks.1.att.time_state",
                                    torch.zeros(1, 64, 64)),
            "'blocks.1.att.time_state' without 'blocks.0.att.time_state'")
    def state_shape(d):
        for layer in (0, 1):
            d[f"blocks.{layer}.att.time_state"] = torch.zeros(1, 64, 32)
    variant("state-shape.pth", state_shape,
            "'blocks.0.att.time_state' has shape [1, 64, 32], expected [1, 64, 64]")
    variant("int-dtype.pth",
            lambda d: d.__setitem__("blocks.0.att.k_k", torch.zeros(1, 1, 64, dtype=torch.int64)),
            "unsupported storage type torch.LongStorage")

    # safetensors.
    st = w("valid.safetensors")
    gen_checkpoint.save_safetensors(sd, st)
    with open(st, "rb") as f:
        st_bytes = f.read()
    (hlen,) = struct.unpack("<Q", st_bytes[:8])
    header = json.loads(st_bytes[8:8 + hlen])
    corpus("st-truncated.safetensors", st_bytes[: len(st_bytes) - 100],
           "data_offsets")
    corpus("st-header-truncated.safetensors", st_bytes[: 8 + hlen // 2],
           "truncated safetensors file")
    corpus("st-bad-json.safetensors",
           st_bytes[:8] + b"{" + b"x" * (hlen - 1) + st_bytes[8 + hlen:],
           "bad safetensors header")

    def st_variant(name, change, *fragments):
        h = json.loads(json.dumps(header))
        change(h)
        text = json.dumps(h).encode()
        corpus(name, struct.pack("<Q", len(text)) + text + st_bytes[8 + hlen:],
               *fragments)
    st_variant("st-dtype.safetensors",
               lambda h: h["head.weight"].__setitem__("dtype", "I64"),
               "'head.weight'", "unsupported dtype I64")
    st_variant("st-offsets.safetensors",
               lambda h: h["head.weight"].__setitem__("data_offsets", [0, 1 << 40]),
               "'head.weight'", "outside")
    st_variant("st-size.safetensors",
               lambda h: h["head.weight"].__setitem__("shape", [41, 64]),
               "'head.weight'", "its shape needs")

    # Options that do not go together.
    cases.append(("--dtype i8 for cuda",
                  [compile_tool, valid, "-o", w("i8-cuda"), "--dtype", "i8",
                   "--target", "cuda"],
                  ["--dtype i8 is for --target cpu"]))
    cases.append(("--i8-min-size 0",
                  [compile_tool, valid, "-o", w("i8-zero"), "--dtype", "i8",
                   "--i8-min-size", "0"],
                  ["--i8-min-size must be at least 1"]))

    # Runtime errors.
    art = w("artifact")
    subprocess.run([compile_tool, valid, "-o", art], check=True)
    cases.append(("token outside the vocabulary",
                  [run_tool, art, "--tokens", "1,40"],
                  ["token 40 at position 1", "vocabulary [0, 40)"]))
    cases.append(("bad --tokens", [run_tool, art, "--tokens", "1,x"],
                  ["bad token 'x'"]))
    cases.append(("not an artifact", [run_tool, args.workdir, "--tokens", "1"],
                  ["manifest.json", "cannot open"]))
    truncated_art = w("artifact-truncated")
    # A rerun in the same build tree replaces the copy (cp -r would nest it).
    shutil.rmtree(truncated_art, ignore_errors=True)
    shutil.copytree(art, truncated_art)
    with open(os.path.join(truncated_art, "weights.bin"), "r+b") as f:
        f.truncate(100)
    cases.append(("truncated weights.bin",
                  [run_tool, truncated_art, "--tokens", "1"],
                  ["weights.bin", "holds 100 bytes"]))
    # A manifest whose initial state names a weight of another shape.
    bad_initial = w("artifact-bad-initial-state")
    shutil.rmtree(bad_initial, ignore_errors=True)
    shutil.copytree(art, bad_initial)
    manifest_path = os.path.join(bad_initial, "manifest.json")
    with open(manifest_path) as f:
        manifest = json.load(f)
    manifest["initial_state"] = {"wkv": ["head.weight", "head.weight"]}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    cases.append(("initial state of the wrong shape",
                  [run_tool, bad_initial, "--tokens", "1"],
                  [manifest_path, "initial_state.wkv entry \"head.weight\"",
                   "[heads, 64, 64]"]))
    other_state = w("other.state")
    with open(other_state, "wb") as f:
        f.write(b"MRWKVST1" + struct.pack("<6q", 2, 128, 2, 64, 40, 1))
    cases.append(("state of another model",
                  [run_tool, art, "--tokens", "1", "--state-in", other_state],
                  [other_state, "another model configuration"]))
    serial_art = w("artifact-serial")
    subprocess.run([compile_tool, valid, "-o", serial_art, "--parallel=0",
                    "--opt-level", "0"], check=True)
    cases.append(("--threads 2 on a single-threaded artifact",
                  [run_tool, serial_art, "--tokens", "1", "--threads", "2"],
                  ["artifact-serial: compiled without --parallel"]))
    cases.append(("--threads -1", [run_tool, art, "--tokens", "1", "--threads",
                                   "-1"],
                  ["modrwkv_model_set_threads: bad arguments"]))
    bad_state = w("bad.state")
    with open(bad_state, "wb") as f:
        f.write(b"not a state")
    cases.append(("not a state file",
                  [run_tool, art, "--tokens", "1", "--state-in", bad_state],
                  [bad_state, "not a modrwkv state file"]))

    check = Checks()
    for name, cmd, fragments in cases:
        check.expect_error(name, cmd, *fragments)
    check.finish()


if __name__ == "__main__":
    main()
