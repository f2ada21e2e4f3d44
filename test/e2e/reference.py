#!/usr/bin/env python3
"""Independent float64 reference of RWKV-7 (x070), token by token.

Written from the published equations (DESIGN.md), sharing no code with the
compiler. Loads `.pth` with torch.load and `.safetensors` with its own
parser, so the compiler's readers are checked too.
"""
import json
import struct

import numpy as np


def load(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        import torch
        sd = torch.load(path, map_location="cpu")
        return {k: v.to(torch.float64).numpy() for k, v in sd.items()}
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = body[b:end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] == "F16":
            a = np.frombuffer(raw, np.float16)
        else:
            a = np.frombuffer(raw, np.float32)
        out[name] = a.astype(np.float64).reshape(e["shape"])
    return out


def round_matrices(weights, dtype):
    """The weights with every matrix of a product or the embedding (all 2-D
    tensors but att.r_k, which is used per channel) rounded from float32 to
    `dtype` ("bf16" or "f16", round to nearest even)."""
    import torch
    narrow = {"bf16": torch.bfloat16, "f16": torch.float16}[dtype]
    out = dict(weights)
    for name, value in weights.items():
        if value.ndim == 2 and not name.endswith("att.r_k"):
            out[name] = torch.tensor(value, dtype=torch.float32).to(
                narrow).to(torch.float64).numpy()
    return out


LORA_SUFFIXES = tuple(f"att.{p}{i}" for p in "wavg" for i in (1, 2))


def quantize_matrices(weights, min_size):
    """The weights as `--dtype i8` stores them: a product's [out, in]
    matrix (the LoRA matrices are stored [in, out]) with out and in >=
    `min_size` as int8 with a scale per output row, scale = max|row| / 127
    and q = rint(w / scale), in float32 arithmetic as the compiler does;
    every other matrix and the embedding rounded to bf16."""
    out = round_matrices(weights, "bf16")
    for name, value in weights.items():
        if value.ndim != 2 or name in ("emb.weight",) or name.endswith("att.r_k"):
            continue
        lora = name.endswith(LORA_SUFFIXES)
        w = (value.T if lora else value).astype(np.float32)
        if min(w.shape) < min_size:
            continue
        largest = np.abs(w).max(axis=1)
        scale = np.where(largest > 0, largest / np.float32(127),
                         np.float32(1)).astype(np.float32)
        q = np.clip(np.rint(w / scale[:, None]), -127, 127)
        deq = q.astype(np.float64) * scale.astype(np.float64)[:, None]
        out[name] = deq.T if lora else deq
    return out


class Rwkv7:
    N = 64

    def __init__(self, weights):
        self.w = weights
        self.vocab, self.C = weights["emb.weight"].shape
        self.H = self.C // self.N
        self.L = 0
        while f"blocks.{self.L}.ln1.weight" in weights:
            self.L += 1

    def fresh_state(self):
        """The state a document starts from: zeros, but a state-tuned
        checkpoint's WKV state starts at its learned `att.time_state`
        [H, value, key] (RWKV-PEFT state tuning)."""
        L, C, H, N = self.L, self.C, self.H, self.N
        wkv = np.zeros((L, H, N, N))
        for layer in range(L):
            tuned = self.w.get(f"blocks.{layer}.att.time_state")
            if tuned is not None:
                wkv[layer] = tuned
        return {"att": np.zeros((L, C)), "ffn": np.zeros((L, C)), "wkv": wkv}

    @staticmethod
    def layer_norm(x, weight, bias, eps=1e-5):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * weight + bias

    def step(self, token, state):
        """One token in RNN mode; updates `state`, returns logits."""
        return self.step_embedding(self.w["emb.weight"][token], state)

    def step_embedding(self, embedding, state):
        """step() for an input row given as its embedding (before ln0), as
        multimodal models feed adapter rows."""
        w, H, N = self.w, self.H, self.N
        v1 = lambda name: w[name].reshape(-1)
        sig = lambda z: 1.0 / (1.0 + np.exp(-z))
        x = self.layer_norm(embedding, w["blocks.0.ln0.weight"],
                            w["blocks.0.ln0.bias"])
        v_first = None
        for i in range(self.L):
            p = f"blocks.{i}."
            xa = self.layer_norm(x, w[p + "ln1.weight"], w[p + "ln1.bias"])
            dx = state["att"][i] - xa
            state["att"][i] = xa
            mix = {m: xa + dx * v1(p + "att.x_" + m) for m in "rwkvag"}
            r = w[p + "att.receptance.weight"] @ mix["r"]
            k = w[p + "att.key.weight"] @ mix["k"]
            v = w[p + "att.value.weight"] @ mix["v"]
            lora_w = np.tanh(mix["w"] @ w[p + "att.w1"]) @ w[p + "att.w2"]
            decay = np.exp(-np.exp(-0.5) * sig(v1(p + "att.w0") + lora_w))
            a = sig(v1(p + "att.a0") + (mix["a"] @ w[p + "att.a1"]) @ w[p + "att.a2"])
            g = sig(mix["g"] @ w[p + "att.g1"]) @ w[p + "att.g2"]
            if i == 0:
                v_first = v
            else:
                gate = sig(v1(p + "att.v0") + (mix["v"] @ w[p + "att.v1"]) @ w[p + "att.v2"])
                v = v + (v_first - v) * gate
            kk = (k * v1(p + "att.k_k")).reshape(H, N)
            kk = kk / np.maximum(np.linalg.norm(kk, axis=1, keepdims=True), 1e-12)
            kk = kk.reshape(-1)
            k = k * (1 + (a - 1) * v1(p + "att.k_a"))
            # Per head: S = S diag(w) + (S a_)(b_)^T + v k^T, a_ = -kk, b_ = kk*a.
            S = state["wkv"][i]
            rh, wh, kh, vh = (z.reshape(H, N) for z in (r, decay, k, v))
            ah, bh = (-kk).reshape(H, N), (kk * a).reshape(H, N)
            y = np.empty((H, N))
            for h in range(H):
                Sh = S[h] * wh[h][None, :] + np.outer(S[h] @ ah[h], bh[h]) \
                    + np.outer(vh[h], kh[h])
                S[h] = Sh
                y[h] = Sh @ rh[h]
            # GroupNorm per head, eps 64e-5.
            mu = y.mean(1, keepdims=True)
            var = ((y - mu) ** 2).mean(1, keepdims=True)
            y = ((y - mu) / np.sqrt(var + 64e-5)).reshape(-1)
            y = y * w[p + "att.ln_x.weight"] + w[p + "att.ln_x.bias"]
            bonus = (rh * kh * w[p + "att.r_k"]).sum(1, keepdims=True) * vh
            y = y + bonus.reshape(-1)
            x = x + w[p + "att.output.weight"] @ (y * g)

            xb = self.layer_norm(x, w[p + "ln2.weight"], w[p + "ln2.bias"])
            dx = state["ffn"][i] - xb
            state["ffn"][i] = xb
            hidden = np.maximum(w[p + "ffn.key.weight"] @ (xb + dx * v1(p + "ffn.x_k")), 0) ** 2
            x = x + w[p + "ffn.value.weight"] @ hidden
        x = self.layer_norm(x, w["ln_out.weight"], w["ln_out.bias"])
        return w["head.weight"] @ x

    def run(self, tokens, state=None):
        state = state if state is not None else self.fresh_state()
        return np.stack([self.step(t, state) for t in tokens]), state
