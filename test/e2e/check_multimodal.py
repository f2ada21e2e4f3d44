#!/usr/bin/env python3
"""ModRWKV end to end: a ViT tower exported from PyTorch to ONNX, a random
adapter with conv compression and a random RWKV-7 in one checkpoint ->
modrwkv-compile --encoder -> modrwkv-run --image, compared with a float64
reference of the whole pipeline (PyTorch ViT in float64, the adapter and
splice in numpy, reference.py's RWKV-7): max|err| / std(ref) <= 1e-3.

The fused pipelines (conv folded into the first layer, loop fusion) and the
unfused one agree; an image that needs resizing matches PIL's resampling;
a text prompt with <image> markers feeds the same tokens and rows as the
spliced token list; bad inputs fail with clear errors.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "onnx"))
import reference  # noqa: E402
from export_encoders import ViT  # noqa: E402
from gen_checkpoint import make_state_dict  # noqa: E402
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "bench", "gpu"))
from runtime import Runtime  # noqa: E402
from harness import Checks, find_ptxas, run, workspace  # noqa: E402
from tokenizer_reference import Reference  # noqa: E402

TOLERANCE = 1e-3
WIDTH, D_ENC, HIDDEN, IMAGE = 64, 48, 128, 32
# The released vocabulary: the modality tokens 65530..65532 are inside it.
VOCAB = 65536
MEAN, STD = [0.48, 0.46, 0.41], [0.27, 0.26, 0.28]
BEGIN, END, PLACEHOLDER = 65530, 65531, 65532


def make_checkpoint(path, conv, seed=0, vocab=VOCAB):
    """`llm.` + RWKV-7 keys and the later release's proj.* adapter."""
    sd = make_state_dict(2, WIDTH, vocab, 4 * WIDTH, (16, 16, 8, 32), seed,
                         torch.float32)
    sd = {"llm." + k: v for k, v in sd.items()}
    g = torch.Generator().manual_seed(seed + 1)
    rnd = lambda *s, scale=0.1: torch.randn(*s, generator=g) * scale
    sd["proj.mlp.0.weight"] = rnd(HIDDEN, D_ENC)
    sd["proj.mlp.0.bias"] = rnd(HIDDEN)
    sd["proj.mlp.2.weight"] = rnd(WIDTH, HIDDEN)
    sd["proj.mlp.2.bias"] = rnd(WIDTH)
    sd["proj.pre_norm.weight"] = 1 + rnd(WIDTH)
    sd["proj.pre_norm.bias"] = rnd(WIDTH)
    if conv:
        sd["proj.conv.weight"] = rnd(D_ENC, D_ENC, 3, scale=0.2)
    torch.save(sd, path)
    return {k: v.double().numpy() for k, v in sd.items()}


def adapter_reference(sd, features, stride=2, padding=0, stack=0):
    """The released adapters in float64: Conv1d compression (bias-free,
    kernel from the weight) or `stack` frames per row
    (unfold(0, K, K).flatten(1)), Linear -> ReLU -> Linear, and y + LN(y)
    when there is a pre_norm."""
    x = features
    if "proj.conv.weight" in sd:
        w = sd["proj.conv.weight"]
        k = w.shape[2]
        x = np.pad(x, ((padding, padding), (0, 0)))
        rows = (len(x) - k) // stride + 1
        x = np.stack([np.einsum("ocj,jc->o", w,
                                x[stride * t:stride * t + k])
                      for t in range(rows)])
    elif stack:
        rows = len(x) // stack
        x = x[:rows * stack].reshape(rows, stack, -1).transpose(0, 2, 1)
        x = x.reshape(rows, -1)
    h = np.maximum(x @ sd["proj.mlp.0.weight"].T + sd["proj.mlp.0.bias"], 0)
    y = h @ sd["proj.mlp.2.weight"].T + sd["proj.mlp.2.bias"]
    if "proj.pre_norm.weight" not in sd:
        return y
    return y + reference.Rwkv7.layer_norm(y, sd["proj.pre_norm.weight"],
                                          sd["proj.pre_norm.bias"])


def model_reference(sd, tokens, rows):
    llm = {k[4:]: v for k, v in sd.items() if k.startswith("llm.")}
    model = reference.Rwkv7(llm)
    state, out, used = model.fresh_state(), [], 0
    for t in tokens:
        if t == PLACEHOLDER:
            out.append(model.step_embedding(rows[used], state))
            used += 1
        else:
            out.append(model.step(t, state))
    return np.stack(out)


def pixels_of(rgb):
    x = (rgb.astype(np.float64) / 255 - MEAN) / STD
    return x.transpose(2, 0, 1)[None]


def rel_err(got, want):
    return float(np.abs(got - want).max() / want.std())


def main():
    tool, path = workspace(__doc__)
    from PIL import Image

    torch.manual_seed(0)
    vit = ViT(image=IMAGE, patch=8, dim=D_ENC, depth=2, heads=4).eval()
    torch.onnx.export(vit, (torch.zeros(1, 3, IMAGE, IMAGE),), path("vit.onnx"),
                      opset_version=17, input_names=["pixel_values"],
                      output_names=["last_hidden_state"])
    with open(path("preprocessor_config.json"), "w") as f:
        json.dump({"size": {"height": IMAGE, "width": IMAGE},
                   "image_mean": MEAN, "image_std": STD,
                   "rescale_factor": 1 / 255, "resample": 2}, f)
    sd = make_checkpoint(path("model.pth"), conv=True)

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (IMAGE, IMAGE, 3), dtype=np.uint8)
              for _ in range(2)]
    for i, im in enumerate(images):
        Image.fromarray(im).save(path(f"image{i}.png"))
    vit64 = vit.double()
    with torch.no_grad():
        feats = [vit64(torch.from_numpy(pixels_of(im)))[0].numpy()
                 for im in images]
    rows = [adapter_reference(sd, f) for f in feats]
    n = len(rows[0])
    prompt = [5, 6, BEGIN] + [PLACEHOLDER] * n + [END, 7, BEGIN] + \
        [PLACEHOLDER] * n + [END, 8, 9]
    want = model_reference(sd, prompt, np.concatenate(rows))

    checks = Checks()
    compile_cmd = [tool("modrwkv-compile"), path("model.pth"), "--encoder",
                   path("vit.onnx"), "--encoder-config",
                   path("preprocessor_config.json"), "--opt-level", "2"]
    outputs = {}
    # hidden 128 x 48 x 3 folded > 48 x 48 x 3 + 128 x 48 conv then linear:
    # auto keeps the conv (loop fusion); mm-fuse-adapter-compression's lit
    # test shows auto folding where that is cheaper.
    expected_stats = {"none": "no compression fusion",
                      "auto": "loop fusion", "fold": "folded",
                      "loops": "loop fusion"}
    for mode in ["none", "auto", "fold", "loops"]:
        art = path("art-" + mode)
        proc = run(compile_cmd + ["-o", art, "--adapter-fusion", mode,
                                  "--stats"])
        stats = proc.stdout.decode().strip()
        checks(expected_stats[mode] in stats, f"--stats ({mode}): {stats}")
        out = path(f"logits-{mode}.npy")
        run([tool("modrwkv-run"), art, "--image", path("image0.png"),
             "--image", path("image1.png"), "--tokens",
             ",".join(map(str, prompt)), "--logits-out", out])
        got = np.load(out)
        outputs[mode] = got
        err = rel_err(got, want)
        checks(err <= TOLERANCE,
               f"{mode}: two images spliced, {len(prompt)} tokens: "
               f"max|err|/std = {err:.2e}")
    # The runtime prefills in chunks of 128 tokens: rows of the first image
    # straddle the boundary, the second image lies in the next chunk.
    image_tokens = [BEGIN] + [PLACEHOLDER] * n + [END]
    long_prompt = list(range(1, 121)) + image_tokens + [7] * 20 + \
        image_tokens + [8]
    want_long = model_reference(sd, long_prompt, np.concatenate(rows))
    run([tool("modrwkv-run"), path("art-auto"), "--image", path("image0.png"),
         "--image", path("image1.png"), "--tokens",
         ",".join(map(str, long_prompt)), "--logits-out", path("long.npy")])
    err = rel_err(np.load(path("long.npy")), want_long)
    checks(err <= TOLERANCE, f"{len(long_prompt)} tokens, images across "
           f"prefill chunks: max|err|/std = {err:.2e}")
    run([tool("modrwkv-run"), path("art-auto"), "--image", path("image0.png"),
         "--image", path("image1.png"), "--tokens",
         ",".join(map(str, long_prompt)), "--last", "--logits-out",
         path("last.npy")])
    err = rel_err(np.load(path("last.npy")), want_long[-1:])
    checks(err <= TOLERANCE, f"the same, --last (head for the last token "
           f"only): max|err|/std = {err:.2e}")
    for mode in ["auto", "fold", "loops"]:
        err = rel_err(outputs[mode], outputs["none"])
        checks(err <= 1e-4, f"fused ({mode}) agrees with unfused: {err:.2e}")

    # --target cuda, run by the CUDA emulator: the tower, adapter and splice
    # are kernels too, and the image graph uploads only the weights it
    # reads. Decode after an image replays the one-token graph.
    gpu = dict(os.environ, MODRWKV_LIBCUDA=os.path.join(
        tool(os.pardir), "lib", "libmodrwkv_cuda_emulator.so"))
    art = path("art-cuda")
    run(compile_cmd + ["-o", art, "--target", "cuda", "--cuda-emulator"])
    with open(os.path.join(art, "manifest.json")) as f:
        cuda_manifest = json.load(f)
    first, last = cuda_manifest["graphs"][0]["weights_range"]
    lm_bytes = 4 * VOCAB * WIDTH * 2  # the embedding and the head
    checks(first >= lm_bytes and last <= os.path.getsize(
        os.path.join(art, "weights.bin")), f"image graph reads weights.bin "
        f"[{first}, {last}), past the language model's")
    for label, tokens, reference_logits, extra in [
            ("two images spliced", prompt, want, []),
            ("images across prefill chunks", long_prompt, want_long, []),
            ("the same, --last", long_prompt, want_long[-1:], ["--last"])]:
        out = path("cuda.npy")
        proc = run([tool("modrwkv-run"), art, "--image", path("image0.png"),
                    "--image", path("image1.png"), "--tokens",
                    ",".join(map(str, tokens)), "--logits-out", out] + extra,
                   env=dict(gpu, MODRWKV_CUDA_PROFILE="1"))
        err = rel_err(np.load(out), reference_logits)
        checks(err <= TOLERANCE and
               b"encode_image_kernel" in proc.stderr,
               f"cuda (emulated), {label}, {len(tokens)} tokens, the tower "
               f"as kernels: max|err|/std = {err:.2e}")
    after = [7, 8, 9]
    want_after = model_reference(sd, prompt + after, np.concatenate(rows))
    run([tool("modrwkv-run"), art, "--image", path("image0.png"), "--image",
         path("image1.png"), "--tokens", ",".join(map(str, prompt)),
         "--state-out", path("cuda.state")], env=gpu)
    run([tool("modrwkv-run"), art, "--state-in", path("cuda.state"),
         "--tokens", ",".join(map(str, after)), "--step", "--logits-out",
         path("cuda-step.npy")], env=gpu)
    err = rel_err(np.load(path("cuda-step.npy")), want_after[-len(after):])
    checks(err <= TOLERANCE, f"cuda (emulated), then {len(after)} tokens one "
           f"at a time (decode graph): max|err|/std = {err:.2e}")
    bad = path("art-cuda-bad-range")
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(path("art-cuda"), bad)
    cuda_manifest["graphs"][0]["weights_range"] = [first, 1 << 40]
    with open(os.path.join(bad, "manifest.json"), "w") as f:
        json.dump(cuda_manifest, f)
    checks.expect_error(
        "cuda: a weights_range past weights.bin",
        [tool("modrwkv-run"), bad, "--image", path("image0.png"), "--tokens",
         ",".join(map(str, prompt))],
        "manifest.json: graph 'image': bad weights_range", env=gpu)
    # For a GPU: PTX for sm_90, assembled by ptxas where the toolkit is;
    # run where a GPU is.
    art = path("art-sm90")
    run(compile_cmd + ["-o", art, "--target", "cuda", "--chip", "sm_90"])
    ptxas = find_ptxas()
    if ptxas:
        proc = subprocess.run([ptxas, "-arch=sm_90", os.path.join(
            art, "kernels.ptx"), "-o", path("kernels.cubin")],
            capture_output=True, text=True)
        checks(proc.returncode == 0, "ptxas -arch=sm_90 assembles the "
               f"multimodal kernels.ptx {proc.stderr.strip()}")
    else:
        print("SKIP: ptxas not found (no CUDA toolkit): PTX not assembled")
    out = path("sm90.npy")
    proc = subprocess.run([tool("modrwkv-run"), art, "--image",
                           path("image0.png"), "--image", path("image1.png"),
                           "--tokens", ",".join(map(str, prompt)),
                           "--logits-out", out], capture_output=True,
                          text=True)
    if "this artifact targets CUDA" in proc.stderr or \
            "cuInit failed" in proc.stderr:
        print(f"SKIP: no NVIDIA GPU to run the sm_90 artifact: "
              f"{proc.stderr.strip()}")
    else:
        err = rel_err(np.load(out), want) if proc.returncode == 0 else 1.0
        checks(err <= TOLERANCE, f"cuda (GPU), two images spliced: "
               f"max|err|/std = {err:.2e} {proc.stderr.strip()}")

    # An image that needs resizing (48x40 -> 32x32) against PIL: nearest
    # is exact; bilinear rounds between passes in fixed point in PIL, so
    # about 3% of the pixels differ by one level, which the random ViT and
    # RWKV amplify to a few 1e-2 (a wrong filter or axis gives O(1)).
    big = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(big).save(path("big.png"))
    with open(os.path.join(path("art-auto"), "manifest.json")) as f:
        manifest = json.load(f)
    tokens = [BEGIN] + [PLACEHOLDER] * n + [END, 5]

    def big_image_err(art, small):
        """big.png through `art` against the reference fed `small`, the
        32x32 image the artifact's preprocessing should make of it."""
        with torch.no_grad():
            f = vit64(torch.from_numpy(pixels_of(small)))[0].numpy()
        want = model_reference(sd, tokens, adapter_reference(sd, f))
        run([tool("modrwkv-run"), art, "--image", path("big.png"), "--tokens",
             ",".join(map(str, tokens)), "--logits-out", path("big.npy")])
        return rel_err(np.load(path("big.npy")), want)

    for name, code, tolerance in [("nearest", Image.NEAREST, TOLERANCE),
                                  ("bilinear", Image.BILINEAR, 1e-1)]:
        art = path("art-" + name)
        shutil.rmtree(art, ignore_errors=True)
        shutil.copytree(path("art-auto"), art)
        manifest["multimodal"]["preprocess"]["image"]["resample"] = name
        with open(os.path.join(art, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        small = np.asarray(Image.fromarray(big).resize((IMAGE, IMAGE), code))
        err = big_image_err(art, small)
        checks(err <= tolerance,
               f"48x40 image resized ({name}) vs PIL: {err:.2e}")

    # Text mode: each <image> marker takes the next --image. The state after
    # the prompt (--max-tokens 0) equals the one after the token list built
    # here with the reference tokenizer (one prefill call both times: the
    # same floats bit for bit).
    vocab = Reference(os.path.join(HERE, "..", "..", "data",
                                   "rwkv_vocab_v20230424.txt"))
    text = ["User: compare ", " with ", "\n\nAssistant:"]
    ids = vocab.encode(text[0].encode()) + image_tokens + \
        vocab.encode(text[1].encode()) + image_tokens + \
        vocab.encode(text[2].encode())
    media = ["--image", path("image0.png"), "--image", path("image1.png")]
    run([tool("modrwkv-run"), path("art-auto"), *media, "--tokens",
         ",".join(map(str, ids)), "--state-out", path("tokens.state")])
    run([tool("modrwkv-run"), path("art-auto"), *media, "--prompt",
         "<image>".join(text), "--max-tokens", "0", "--state-out",
         path("text.state")])
    same = open(path("tokens.state"), "rb").read() == \
        open(path("text.state"), "rb").read()
    checks(same, "--prompt with two <image> markers = the spliced token list "
           "(identical states)")
    run([tool("modrwkv-run"), path("art-auto"), *media, "--prompt",
         "".join(text), "--max-tokens", "0", "--state-out", path("first.state")])
    first = vocab.encode(b"".join(t.encode() for t in text))
    run([tool("modrwkv-run"), path("art-auto"), *media, "--tokens",
         ",".join(map(str, image_tokens * 2 + first)), "--state-out",
         path("tokens-first.state")])
    same = open(path("tokens-first.state"), "rb").read() == \
        open(path("first.state"), "rb").read()
    checks(same, "--prompt without markers: the images first")
    # Questions about one image, answered together: the state after the
    # image (--state-out) is where every prompt of a batch starts; each
    # reply equals the --state-in --prompt run of its question.
    run([tool("modrwkv-run"), path("art-auto"), "--image", path("image0.png"),
         "--prompt", "User: look at <image>", "--max-tokens", "0",
         "--state-out", path("image.state")])
    questions = ["\n\nWhat is it?\n\nAssistant:", "\n\nColors?\n\nAssistant:",
                 "\n\nDescribe it.\n\nAssistant:"]
    with open(path("questions.jsonl"), "w") as f:
        f.writelines(json.dumps(q) + "\n" for q in questions)
    options = ["--max-tokens", "8", "--temperature", "0", "--state-in",
               path("image.state")]
    proc = run([tool("modrwkv-run"), path("art-auto"), "--batch-prompts",
                path("questions.jsonl"), *options])
    replies = {r["index"]: r["tokens"] for r in
               map(json.loads, proc.stdout.decode().splitlines())}
    alone = []
    for q in questions:
        run([tool("modrwkv-run"), path("art-auto"), "--prompt", q, *options,
             "--tokens-out", path("alone.txt")])
        with open(path("alone.txt")) as f:
            alone.append([int(t) for t in f.read().strip().split(",") if t])
    checks(len(replies) == 3 and all(replies[i] == alone[i] for i in range(3))
           and any(alone),
           "--batch-prompts --state-in (after an image) answers each question "
           "as --prompt --state-in does")
    # Prompts with their own images in one batch (2 slots for 3 prompts):
    # each reply equals the --image ... --prompt run of its prompt.
    batch_prompts = [
        {"prompt": "User: what is <image>?\n\nAssistant:",
         "image": path("image0.png")},
        {"prompt": "User: compare <image> and <image>\n\nAssistant:",
         "image": [path("image1.png"), path("image0.png")]},
        {"prompt": "User: hello\n\nAssistant:"}]
    with open(path("image-prompts.jsonl"), "w") as f:
        f.writelines(json.dumps(p) + "\n" for p in batch_prompts)
    greedy = ["--max-tokens", "6", "--temperature", "0"]
    proc = run([tool("modrwkv-run"), path("art-auto"), "--batch-prompts",
                path("image-prompts.jsonl"), "--batch-slots", "2", *greedy])
    replies = {r["index"]: r["tokens"] for r in
               map(json.loads, proc.stdout.decode().splitlines())}
    same = 0
    for i, p in enumerate(batch_prompts):
        images = p.get("image", [])
        image_args = [a for im in ([images] if isinstance(images, str)
                                   else images) for a in ("--image", im)]
        run([tool("modrwkv-run"), path("art-auto"), *image_args, "--prompt",
             p["prompt"], *greedy, "--tokens-out", path("alone.txt")])
        with open(path("alone.txt")) as f:
            same += replies.get(i) == [int(t) for t in
                                       f.read().strip().split(",") if t]
    checks(same == len(batch_prompts), f"--batch-prompts with images per "
           f"prompt: {same}/{len(batch_prompts)} replies equal their "
           f"--image --prompt runs")
    with open(path("bad-media.jsonl"), "w") as f:
        f.write(json.dumps({"prompt": "x", "image": 3}) + "\n")
    checks.expect_error(
        "a prompts line with a bad image list",
        [tool("modrwkv-run"), path("art-auto"), "--batch-prompts",
         path("bad-media.jsonl")],
        path("bad-media.jsonl") + ":1", "\"image\" must be a path")

    # The batched entry takes token ids only: a placeholder is refused.
    runtime = Runtime(tool(os.path.join(os.pardir, "lib",
                                        "libmodrwkv_runtime.so")))
    batch = runtime.load(path("art-auto")).batch(2)
    try:
        batch.decode([5, PLACEHOLDER])
        refused = ""
    except RuntimeError as e:
        refused = str(e)
    checks("placeholder token 65532 takes a modality row" in refused,
           f"a placeholder in a batched decode is refused: {refused}")
    checks.expect_error(
        "marker count mismatch",
        [tool("modrwkv-run"), path("art-auto"), *media, "--prompt",
         "<image> and", "--max-tokens", "0"],
        "the prompt has 1 <image> marker and 2 --image files")

    # CLIP-style preprocessing (Hugging Face: resize the shortest edge to S,
    # the other to int(S * long / short), then crop the center, the window
    # at floor((size - crop) / 2), zeros past the image): 48x40 -> 43x36 ->
    # 32x32 from (2, 5); with S = 24, 28x24 is padded to 32x32 from (-4, -2).
    # Nearest resampling, so the comparison is exact.
    def center_crop(im, size):
        out = np.zeros((size, size, 3), np.uint8)
        top, left = (im.shape[0] - size) // 2, (im.shape[1] - size) // 2
        for i in range(size):
            for j in range(size):
                if 0 <= top + i < im.shape[0] and 0 <= left + j < im.shape[1]:
                    out[i, j] = im[top + i, left + j]
        return out

    for edge, shape in [(36, (43, 36)), (24, (28, 24))]:
        config = path(f"clip{edge}.json")
        with open(config, "w") as f:
            json.dump({"size": {"shortest_edge": edge}, "do_center_crop": True,
                       "crop_size": {"height": IMAGE, "width": IMAGE},
                       "image_mean": MEAN, "image_std": STD, "resample": 0}, f)
        art = path(f"art-clip{edge}")
        run(compile_cmd[:-4] + ["--encoder-config", config, "--opt-level",
                                "0", "-o", art])
        small = center_crop(np.asarray(Image.fromarray(big).resize(
            shape, Image.NEAREST)), IMAGE)
        err = big_image_err(art, small)
        checks(err <= TOLERANCE, f"48x40 image, shortest edge {edge} + center "
               f"crop {IMAGE} vs PIL + Hugging Face's crop: {err:.2e}")
    for config, message in [
            ({"size": {"shortest_edge": 36}}, "set do_center_crop and crop_size"),
            ({"size": {"shortest_edge": 36}, "do_center_crop": True,
              "crop_size": 28}, "crop_size {\"height\":28,\"width\":28} "
             "differs from the tower's input 32x32"),
            ({"size": 224}, "size 224 is not supported")]:
        with open(path("bad-config.json"), "w") as f:
            json.dump(config, f)
        checks.expect_error(
            f"preprocessing config {json.dumps(config)}",
            compile_cmd[:-4] + ["--encoder-config", path("bad-config.json"),
                                "-o", path("art-bad")], message)

    art = path("art-auto")
    checks.expect_error(
        "placeholder count mismatch", [tool("modrwkv-run"), art, "--image",
                                       path("image0.png"), "--tokens",
                                       f"5,{PLACEHOLDER},6"],
        "placeholder count mismatch: the tokens hold 1 placeholder",
        f"{n} modality rows were given")
    with open(path("broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    checks.expect_error(
        "unreadable image", [tool("modrwkv-run"), art, "--image",
                             path("broken.png"), "--tokens", "5"],
        "broken.png: cannot read the image")
    make_checkpoint(path("wide.pth"), conv=False)
    wide = torch.load(path("wide.pth"))
    wide["proj.mlp.0.weight"] = torch.zeros(HIDDEN, 40)
    torch.save(wide, path("wide.pth"))
    checks.expect_error(
        "encoder/adapter width mismatch",
        [tool("modrwkv-compile"), path("wide.pth"), "--encoder",
         path("vit.onnx"), "-o", path("art-wide")],
        "encoder/adapter width mismatch: the tower's features are 48 wide, "
        "the adapter's first layer takes 40 (not a multiple)")
    del wide["proj.mlp.0.weight"]
    torch.save(wide, path("wide.pth"))
    checks.expect_error(
        "missing adapter tensor",
        [tool("modrwkv-compile"), path("wide.pth"), "--encoder",
         path("vit.onnx"), "-o", path("art-wide")],
        "no ModRWKV adapter in this checkpoint")
    run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), "-o",
         path("text.pth")])
    run([tool("modrwkv-compile"), path("text.pth"), "-o", path("art-text"),
         "--opt-level", "0"])
    checks.expect_error(
        "text-only artifact given an image",
        [tool("modrwkv-run"), path("art-text"), "--image", path("image0.png"),
         "--tokens", "5"], "art-text: not a multimodal artifact")
    checks.finish()


if __name__ == "__main__":
    main()
