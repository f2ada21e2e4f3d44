#!/usr/bin/env python3
"""PyTorch float32 baseline for bench/run.sh: the RWKV-7 equations of
DESIGN.md written plainly in torch, in RNN mode (decode, batch 1) and
sequence mode (prefill: products over all tokens, the recurrence token by
token; the head for the last token only, as modrwkv's prefill without a
logits buffer), with torch.set_num_threads(cores), or eagerly on a GPU with
--device cuda (bench/gpu/run.sh; TF32 off, so products are fp32). Prints
one JSON object."""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F


def load(path, device):
    sd = torch.load(path, map_location="cpu")
    return {k: v.float().to(device) for k, v in sd.items()}


class Model:
    def __init__(self, w, device):
        self.w, self.device = w, device
        self.V, self.C = w["emb.weight"].shape
        self.H, self.N = w["blocks.0.att.r_k"].shape
        self.L = sum(1 for k in w if k.endswith(".ln1.weight"))

    def state(self):
        L, C, H, N = self.L, self.C, self.H, self.N
        return [torch.zeros(L, C, device=self.device),
                torch.zeros(L, C, device=self.device),
                torch.zeros(L, H, N, N, device=self.device)]

    @torch.no_grad()
    def forward(self, tokens, st):
        """tokens: list of ids; returns logits [T, V] and updates st."""
        w, H, N, C = self.w, self.H, self.N, self.C
        T = len(tokens)
        vec = lambda n: w[n].view(C)
        x = F.layer_norm(w["emb.weight"][tokens], (C,), w["blocks.0.ln0.weight"],
                         w["blocks.0.ln0.bias"])
        v_first = None
        for i in range(self.L):
            p = f"blocks.{i}."
            xa = F.layer_norm(x, (C,), w[p + "ln1.weight"], w[p + "ln1.bias"])
            prev = torch.cat([st[0][i][None], xa[:-1]])
            st[0][i] = xa[-1]
            dx = prev - xa
            m = {k: xa + dx * vec(p + "att.x_" + k) for k in "rwkvag"}
            r = m["r"] @ w[p + "att.receptance.weight"].T
            k = m["k"] @ w[p + "att.key.weight"].T
            v = m["v"] @ w[p + "att.value.weight"].T
            decay = torch.exp(-0.6065306597 * torch.sigmoid(
                vec(p + "att.w0") + torch.tanh(m["w"] @ w[p + "att.w1"]) @ w[p + "att.w2"]))
            a = torch.sigmoid(vec(p + "att.a0") + (m["a"] @ w[p + "att.a1"]) @ w[p + "att.a2"])
            g = torch.sigmoid(m["g"] @ w[p + "att.g1"]) @ w[p + "att.g2"]
            if i == 0:
                v_first = v
            else:
                v = v + (v_first - v) * torch.sigmoid(
                    vec(p + "att.v0") + (m["v"] @ w[p + "att.v1"]) @ w[p + "att.v2"])
            kk = F.normalize((k * vec(p + "att.k_k")).view(T, H, N), dim=-1).view(T, C)
            k = k * (1 + (a - 1) * vec(p + "att.k_a"))
            S = st[2][i]
            y = torch.empty(T, H, N, device=self.device)
            for t in range(T):
                rt, wt, kt, vt = (z[t].view(H, N) for z in (r, decay, k, v))
                at, bt = (-kk[t]).view(H, N), (kk[t] * a[t]).view(H, N)
                S = S * wt[:, None, :] + (S @ at[:, :, None]) @ bt[:, None, :] \
                    + vt[:, :, None] @ kt[:, None, :]
                y[t] = (S @ rt[:, :, None])[:, :, 0]
            st[2][i] = S
            y = F.group_norm(y.view(T, C), H, w[p + "att.ln_x.weight"],
                             w[p + "att.ln_x.bias"], eps=64e-5)
            y = y + ((r * k).view(T, H, N) * w[p + "att.r_k"]).sum(-1, keepdim=True) \
                .mul(v.view(T, H, N)).view(T, C)
            x = x + (y * g) @ w[p + "att.output.weight"].T
            xb = F.layer_norm(x, (C,), w[p + "ln2.weight"], w[p + "ln2.bias"])
            prev = torch.cat([st[1][i][None], xb[:-1]])
            st[1][i] = xb[-1]
            h = torch.relu((xb + (prev - xb) * vec(p + "ffn.x_k")) @ w[p + "ffn.key.weight"].T) ** 2
            x = x + h @ w[p + "ffn.value.weight"].T
        x = F.layer_norm(x[-1:], (C,), w["ln_out.weight"], w["ln_out.bias"])
        return x @ w["head.weight"].T


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint")
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--prefill", type=int, default=512)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)
    model = Model(load(args.checkpoint, device), device)
    tokens = [(i * 7919 + 13) % model.V for i in range(max(args.decode, args.prefill))]

    def decode():
        st = model.state()
        for t in tokens[:args.decode]:
            model.forward([t], st)

    def prefill():
        model.forward(tokens[:args.prefill], model.state())

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn):
        fn()  # warm-up
        times = []
        for _ in range(args.runs):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    print(json.dumps({
        "decode_tokens_per_s": args.decode / timed(decode),
        "prefill_tokens_per_s": args.prefill / timed(prefill),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "device": (torch.cuda.get_device_name() if device.type == "cuda"
                   else "cpu"),
        # Debian's torch calls the system BLAS (libblas.so.3 alternative).
        "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")}))


if __name__ == "__main__":
    main()
