#!/usr/bin/env python3
"""A Hugging Face model folder as modrwkv-compile's input: flash-linear-
attention's layout sharded over two safetensors files with
model.safetensors.index.json and config.json compiles to the same logits as
the single file; tie_word_embeddings gives the head the embedding's values;
config.json sizes that contradict the weights, what the compiler does not
implement (softmax-attention layers, another norm_eps), and broken indexes
are clear errors naming the file and tensor."""
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_checkpoint  # noqa: E402
from harness import Checks, run, workspace  # noqa: E402

LAYERS, WIDTH, VOCAB, RANKS = 2, 128, 300, (5, 7, 3, 9)


def config_json(**changes):
    config = {"model_type": "rwkv7", "hidden_size": WIDTH,
              "num_hidden_layers": LAYERS, "head_dim": 64,
              "vocab_size": VOCAB, "intermediate_size": 4 * WIDTH,
              "decay_low_rank_dim": RANKS[0], "a_low_rank_dim": RANKS[1],
              "v_low_rank_dim": RANKS[2], "gate_low_rank_dim": RANKS[3],
              "hidden_act": "sqrelu", "norm_first": True, "norm_eps": 1e-5,
              "attn": None, "tie_word_embeddings": False}
    config.update(changes)
    return config


def write_folder(path, sd, shards=2, config=None, index_changes=None):
    """Saves `sd` as a model folder of `shards` safetensors files (one
    model.safetensors when 1) with config.json; `index_changes` edits the
    index's weight_map."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    names = list(sd)
    if shards == 1:
        gen_checkpoint.save_safetensors(sd, os.path.join(path, "model.safetensors"))
    else:
        weight_map = {}
        for i in range(shards):
            file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: sd[n] for n in names[i::shards]}
            gen_checkpoint.save_safetensors(part, os.path.join(path, file))
            weight_map.update({n: file for n in part})
        weight_map.update(index_changes or {})
        with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config or config_json(), f)
    return path


def main():
    tool, w = workspace(__doc__)
    check = Checks()

    released = gen_checkpoint.make_state_dict(LAYERS, WIDTH, VOCAB, 4 * WIDTH,
                                              RANKS, 7, torch.bfloat16, False)
    fla = gen_checkpoint.to_fla(released, fuse_mixes=False)
    single = w("model-fla.safetensors")
    gen_checkpoint.save_safetensors(fla, single)
    tokens = ",".join(str(t) for t in np.random.default_rng(3).integers(0, VOCAB, 9))

    def logits(source, name, *extra):
        art, out = w(name), w(name + ".npy")
        run([tool("modrwkv-compile"), source, "-o", art, *extra])
        run([tool("modrwkv-run"), art, "--tokens", tokens, "--logits-out", out])
        return np.load(out)

    for dtype in ("f32", "bf16"):
        want = logits(single, "single-" + dtype, "--dtype", dtype)
        got = logits(write_folder(w("sharded"), fla), "sharded-" + dtype,
                     "--dtype", dtype)
        check(np.array_equal(got, want),
              f"two shards + index + config.json, --dtype {dtype}: the "
              "single file's logits exactly")

    # Tied embeddings: no lm_head.weight; the head reads the embedding.
    tied = {n: t for n, t in fla.items() if n != "lm_head.weight"}
    twin = dict(released)
    twin["head.weight"] = released["emb.weight"].clone()
    torch.save(twin, w("tied-twin.pth"))
    got = logits(write_folder(w("tied"), tied, shards=1,
                              config=config_json(tie_word_embeddings=True)),
                 "tied")
    check(np.array_equal(got, logits(w("tied-twin.pth"), "tied-twin")),
          "tie_word_embeddings: the logits of head = embedding")

    def bad(label, folder, *fragments):
        check.expect_error(label, [tool("modrwkv-compile"), folder, "-o",
                                   w("bad-art")], *fragments)

    name = "model.layers.1.attn.k_proj.weight"
    shard2 = "model-00002-of-00002.safetensors"
    bad("config.json with another depth",
        write_folder(w("bad-depth"), fla, config=config_json(num_hidden_layers=3)),
        "config.json", "num_hidden_layers is 3, the weights have 2")
    bad("softmax-attention layers (attn)",
        write_folder(w("bad-attn"), fla,
                     config=config_json(attn={"layers": [1], "num_heads": 2})),
        "config.json", "\"attn\"", "not supported")
    bad("norm_eps other than 1e-5",
        write_folder(w("bad-eps"), fla, config=config_json(norm_eps=1e-6)),
        "config.json", "norm_eps", "not supported")
    bad("tied embeddings without tie_word_embeddings",
        write_folder(w("bad-untied"), tied, shards=1),
        "missing tensor 'head.weight'")
    bad("index places a tensor in the other shard",
        write_folder(w("bad-place"), fla, index_changes={
            name: "model-00001-of-00002.safetensors"}),
        shard2, name, "places in model-00001-of-00002.safetensors")
    bad("index lists a tensor no shard holds",
        write_folder(w("bad-missing"), fla, index_changes={
            "model.layers.9.attn.k_proj.weight": shard2}),
        shard2, "missing tensor 'model.layers.9.attn.k_proj.weight'")
    bad("index names a shard outside the folder",
        write_folder(w("bad-path"), fla, index_changes={
            name: "../model-fla.safetensors"}),
        "model.safetensors.index.json", name, "file name in the folder")
    folder = write_folder(w("bad-shard"), fla)
    os.remove(os.path.join(folder, shard2))
    bad("a shard the index names is missing", folder, shard2, "cannot open")
    os.makedirs(w("empty"), exist_ok=True)
    bad("a folder without weights", w("empty"), "empty", "model.safetensors")
    check.finish()


if __name__ == "__main__":
    main()
