#!/usr/bin/env python3
"""GPU numerics of --target cuda artifacts (issue 5), for a machine with a
GPU and no compiler: each CASE directory (made by bench/gpu/bundle.sh) holds
the checkpoint `model.pth` and `artifact/`, compiled from it for CUDA. The
runtime library is driven through ctypes (bench/gpu/runtime.py) and every
result is compared with the float64 reference of test/e2e/reference.py:

- prefill of 1, 7, 200 and 300 tokens (the runtime feeds 128-token chunks),
  every logits row: max|err| / std(ref) <= 1e-3 (bf16 artifacts: against the
  reference with the same bf16-rounded matrices; the distance to the
  unrounded checkpoint is printed for information);
- decode, token by token, each step's logits; decode, prefill and decode
  again on one state;
- prefill without a logits buffer: the state's last logits;
- state save after a prefix, load into a fresh state, continue; the saved
  WKV block against the reference state; state copy, then both continue
  to the same logits;
- the 300-token prefill twice: bit-identical (a moving result is a race);
- batched decode (artifacts with a batch entry): four prompts of different
  lengths prefilled alone and put into slots, three batched steps, each
  slot against its whole sequence's reference; a slot taken back out and
  decoded alone continues correctly;
- multimodal cases (bench/gpu/multimodal_case.py): the image graph's
  adapter rows, a prompt with them spliced, then text token by token.

Tokens are drawn afresh each run (the seed is printed). Outputs are
NaN-poisoned before each call, so an unwritten row fails.
usage: check.py --lib libmodrwkv_runtime.so CASE...
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "e2e"))
sys.path.insert(0, HERE)
import reference  # noqa: E402
from runtime import Runtime  # noqa: E402

TOLERANCE = 1e-3


class Report:
    def __init__(self):
        self.failed = 0
        self.rows = []

    def error(self, label, got, ref, tolerance):
        err = float(np.abs(got - ref).max() / ref.std()) \
            if got.shape == ref.shape else float("inf")
        ok = bool(np.isfinite(got).all()) and err <= tolerance
        self.check(ok, f"{label}: max|err|/std = {err:.2e} "
                       f"(tolerance {tolerance:g})")
        return err

    def check(self, ok, label):
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label}", flush=True)


def check_case(rt, case, rng, report):
    ckpt = os.path.join(case, "model.pth")
    art = os.path.join(case, "artifact")
    with open(os.path.join(art, "manifest.json")) as f:
        manifest = json.load(f)
    narrow = next((t["dtype"] for t in manifest["weights"]["tensors"]
                   if t["dtype"] in ("bf16", "f16")), None)
    weights = reference.load(ckpt)
    exact = reference.Rwkv7(weights)
    ref = reference.Rwkv7(reference.round_matrices(weights, narrow)) \
        if narrow else exact
    name = os.path.basename(os.path.normpath(case))
    print(f"== {name}: {manifest['config']}, "
          f"{narrow or 'f32'} weights, target "
          f"{manifest.get('target', 'cpu')}", flush=True)
    model = rt.load(art)
    V = model.vocab
    seqs = {n: rng.integers(0, V, n) for n in (1, 7, 200, 300)}
    for n, tokens in seqs.items():
        want, _ = ref.run(list(tokens))
        got = model.state().prefill(tokens)
        report.error(f"{name} prefill {n}", got, want, TOLERANCE)
        if narrow and n == 300:
            # Information: what rounding this checkpoint to bf16/f16 costs
            # (a property of the weights, zero for bf16 checkpoints in bf16).
            full, _ = exact.run(list(tokens))
            print(f"     (information) {name} prefill {n} vs the unrounded "
                  f"checkpoint: max|err|/std = "
                  f"{np.abs(got - full).max() / full.std():.2e}")
    tokens = seqs[200][:40]
    want, _ = ref.run(list(tokens))
    st = model.state()
    got = np.stack([st.decode(t) for t in tokens])
    report.error(f"{name} decode 40 steps", got, want, TOLERANCE)
    # Decode, prefill (larger buffers), decode again: a CUDA decode graph
    # must be captured again for the moved buffers.
    tokens = seqs[300][:12]
    want, _ = ref.run(list(tokens))
    st = model.state()
    got = np.concatenate([np.stack([st.decode(t) for t in tokens[:2]]),
                          st.prefill(tokens[2:9]),
                          np.stack([st.decode(t) for t in tokens[9:]])])
    report.error(f"{name} decode 2, prefill 7, decode 3", got, want,
                 TOLERANCE)
    st = model.state()
    last = st.prefill(seqs[300], want_logits=False)
    want, _ = ref.run(list(seqs[300]))
    report.error(f"{name} prefill 300, no logits buffer: last logits", last,
                 want[-1], TOLERANCE)

    # Save after a prefix, load into a fresh state, continue.
    tokens = list(seqs[200][:30])
    split = 11
    want, ref_state = ref.run(tokens[:split])
    want_all, _ = ref.run(tokens)
    first = model.state()
    first.prefill(tokens[:split])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prefix.state")
        first.save(path)
        L, C, H, N = ref.L, ref.C, ref.H, ref.N
        raw = np.fromfile(path, dtype=np.float32, offset=56)
        wkv = raw[2 * L * C:2 * L * C + L * H * N * N].reshape(L, H, N, N)
        err = float(np.abs(wkv - ref_state["wkv"]).max()
                    / np.abs(ref_state["wkv"]).max())
        report.check(err <= TOLERANCE, f"{name} saved WKV state "
                     f"S[value][key]: max|err| = {err:.2e} of max|S|")
        resumed = model.state()
        resumed.decode(tokens[0])  # its graph must see the loaded state
        resumed.load(path)
        got = np.concatenate([resumed.decode(tokens[split])[None],
                              resumed.prefill(tokens[split + 1:])])
    report.error(f"{name} loaded state, continued", got, want_all[split:],
                 TOLERANCE)
    copy = model.state()
    copy.copy_from(first)
    a, b = first.prefill(tokens[split:]), copy.prefill(tokens[split:])
    report.check(np.array_equal(a, b) and np.isfinite(a).all(),
                 f"{name} state copy continues to identical logits")

    again = model.state().prefill(seqs[300])
    once = model.state().prefill(seqs[300])
    report.check(np.array_equal(once, again),
                 f"{name} prefill 300 twice: bit-identical")

    if "batch_entry" in manifest:
        prompts = [list(seqs[7]), list(seqs[1]), list(seqs[200][:50]),
                   list(seqs[300][:3])]
        steps = [list(rng.integers(0, V, len(prompts))) for _ in range(3)]
        batch = model.batch_of(prompts)
        got = batch.decode_steps(steps)
        whole = [prompt + [step[slot] for step in steps] + [5]
                 for slot, prompt in enumerate(prompts)]
        want = [ref.run(seq)[0] for seq in whole]
        report.error(f"{name} batched decode, {len(prompts)} slots x "
                     f"{len(steps)} steps", got,
                     np.stack([w[len(p):len(p) + len(steps)]
                               for w, p in zip(want, prompts)]), TOLERANCE)
        out = model.state()
        batch.get(2, out)
        report.error(f"{name} slot taken out, decoded alone", out.decode(5),
                     want[2][-1], TOLERANCE)


def check_multimodal_case(rt, case, report):
    """A case of multimodal_case.py: the image graph's adapter rows, the
    prompt with them spliced, then text decoded token by token."""
    art = os.path.join(case, "artifact")
    with open(os.path.join(case, "multimodal.json")) as f:
        spec = json.load(f)
    rows = np.load(os.path.join(case, "rows.npy"))
    want = np.load(os.path.join(case, "want.npy"))
    name = os.path.basename(os.path.normpath(case))
    print(f"== {name}: image graph + model, {len(rows)} adapter rows",
          flush=True)
    features = rt.graphs(art).run(0, np.load(os.path.join(case, "pixels.npy")),
                                  rows.shape)
    report.error(f"{name} image graph: adapter rows", features, rows,
                 TOLERANCE)
    tokens, k = spec["tokens"], spec["prefilled"]
    state = rt.load(art).state()
    report.error(f"{name} prefill {k} tokens with the rows spliced",
                 state.prefill_features(tokens[:k], features), want[:k],
                 TOLERANCE)
    report.error(f"{name} then {len(tokens) - k} tokens decoded",
                 np.stack([state.decode(t) for t in tokens[k:]]), want[k:],
                 TOLERANCE)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    print(f"token seed {args.seed}")
    rng = np.random.default_rng(args.seed)
    rt = Runtime(args.lib)
    report = Report()
    for case in args.cases:
        if os.path.exists(os.path.join(case, "multimodal.json")):
            check_multimodal_case(rt, case, report)
        else:
            check_case(rt, case, rng, report)
    print(f"{report.failed} failed")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
