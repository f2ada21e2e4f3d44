"""Work per token of a compiled RWKV-7 artifact, from its manifest's weight
table: what the benchmark reports divide the measured machine rates by."""
import math


ELEMENT_BYTES = {"f32": 4, "bf16": 2, "f16": 2, "i8": 1}


def _bytes(t):
    return ELEMENT_BYTES[t["dtype"]] * math.prod(t["shape"])


def _tensor(tensors, prefix):
    """The matrix stored for checkpoint tensor `prefix` (as `prefix`, or
    with a dtype suffix; not an int8 matrix's scales)."""
    return next(t for t in tensors
                if t["name"].startswith(prefix) and len(t["shape"]) == 2)


def decode_bytes(manifest, with_state=False):
    """Bytes read per decoded token: every weight once but only one row of
    the embedding; with_state adds the WKV state, read and written."""
    tensors = manifest["weights"]["tensors"]
    emb = _tensor(tensors, "emb.weight")
    total = sum(_bytes(t) for t in tensors) - _bytes(emb) * (1 - 1 / emb["shape"][0])
    if with_state:
        total += 2 * 4 * math.prod(manifest["state"]["wkv"])
    return total


def batch_decode_bytes(manifest, batch):
    """Bytes moved per batched decode step of `batch` sequences: every
    weight once (one embedding row per sequence), each sequence's WKV state
    read and written, and its logits row written."""
    per_sequence = decode_bytes(manifest, with_state=True) - decode_bytes(manifest)
    emb = _tensor(manifest["weights"]["tensors"], "emb.weight")
    row = _bytes(emb) / emb["shape"][0]
    vocab = manifest["config"]["vocab"]
    return decode_bytes(manifest) - row + batch * (row + per_sequence + 4 * vocab)


def prefill_flops(manifest, tokens):
    """FLOPs per token of a `tokens`-token prefill: 2 per matrix parameter,
    the head's once per prefill (only the last token's logits are
    computed)."""
    tensors = manifest["weights"]["tensors"]
    matrix = sum(math.prod(t["shape"]) for t in tensors
                 if len(t["shape"]) == 2 and not t["name"].startswith("emb."))
    head = math.prod(_tensor(tensors, "head.weight")["shape"])
    return 2 * (matrix - head + head / tokens)
