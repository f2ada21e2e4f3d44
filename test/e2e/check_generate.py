#!/usr/bin/env python3
"""Text in, text out, end to end.

- modrwkv-tokenize equals the independent reference tokenizer on random
  multilingual strings and random bytes, and --decode round-trips;
- on a generated model with the full vocabulary: the same seed gives the
  same text; greedy generation equals the argmax of the logits path;
  --state-out then --state-in continues exactly; stop strings cut the
  output (across token boundaries); prompts from stdin and files equal
  --prompt; --chat keeps the state across turns; --batch-prompts (continuous
  batching) gives every prompt the reply --prompt gives it.
"""
import argparse
import json
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Checks, run  # noqa: E402
from tokenizer_reference import Reference  # noqa: E402

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--vocab", required=True)
    args = ap.parse_args()
    check = Checks()
    os.makedirs(args.workdir, exist_ok=True)
    tool = lambda name: os.path.join(args.tools, name)
    w = lambda name: os.path.join(args.workdir, name)

    # Tokenizer against the reference.
    ref = Reference(args.vocab)
    rng = random.Random(5)
    alphabet = ("abc xyz ,.!?\n\t0123456789 你好世界中文 Привет мир Ελληνικά "
                "ٱلْعَرَبِيَّة 日本語テキスト 🙂👍🚀 def return")
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))).encode()
               for _ in range(40)]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
                for _ in range(40)]
    same = decoded = 0
    for data in samples:
        out = run([tool("modrwkv-tokenize"), "--vocab", args.vocab], data).stdout
        ids = [int(x) for x in out.decode().strip().split(",") if x]
        same += ids == ref.encode(data)
        back = run([tool("modrwkv-tokenize"), "--vocab", args.vocab, "--decode"],
                   out).stdout
        decoded += back == data
    check(same == len(samples), f"modrwkv-tokenize equals the reference on "
                                f"{same}/{len(samples)} inputs")
    check(decoded == len(samples), f"--decode round-trips {decoded}/{len(samples)}")

    # A model with the full vocabulary.
    ckpt, art = w("model.pth"), w("artifact")
    run([sys.executable, os.path.join(HERE, "gen_checkpoint.py"), "-o", ckpt,
         "--layers", "2", "--width", "64", "--vocab", "65536", "--seed", "7"])
    run([tool("modrwkv-compile"), ckpt, "-o", art])
    prompt = "User: 你好, tell me a story.\n\nAssistant:"

    def generate(*extra, stdin=b""):
        tokens_out = w("generated.txt")
        proc = run([tool("modrwkv-run"), art, "--vocab", args.vocab,
                    "--tokens-out", tokens_out, *extra], stdin)
        with open(tokens_out) as f:
            ids = [int(x) for x in f.read().strip().split(",") if x]
        return proc.stdout, ids, proc.stderr.decode()

    text1, ids1, _ = generate("--prompt", prompt, "--max-tokens", "24", "--seed", "11")
    text2, ids2, _ = generate("--prompt", prompt, "--max-tokens", "24", "--seed", "11")
    text3, ids3, _ = generate("--prompt", prompt, "--max-tokens", "24", "--seed", "12")
    check(text1 == text2 and ids1 == ids2 and len(ids1) == 24,
          "the same seed gives the same text")
    check(ids1 != ids3, "another seed gives other text")
    check(ref.decode(ids1) == text1, "the streamed text is the generated tokens' bytes")

    greedy = ["--temperature", "0", "--presence-penalty", "0",
              "--frequency-penalty", "0"]
    text_g, ids_g, err = generate("--prompt", prompt, "--max-tokens", "16", *greedy)
    check("tokens/s" in err, "timing is reported on stderr")
    prompt_ids = ref.encode(prompt.encode())
    logits_file = w("path.npy")
    run([tool("modrwkv-run"), art, "--tokens",
         ",".join(map(str, prompt_ids + ids_g[:-1])), "--logits-out", logits_file])
    path = np.load(logits_file)[len(prompt_ids) - 1:]
    check(list(path.argmax(axis=1)) == ids_g,
          "greedy generation equals the argmax of the logits path")

    state = w("continue.state")
    _, first, _ = generate("--prompt", prompt, "--max-tokens", "6", *greedy,
                           "--state-out", state)
    _, rest, _ = generate("--state-in", state, "--max-tokens", "10", *greedy)
    check(first + rest == ids_g, "--state-out then --state-in continues exactly")

    # A stop string spanning the greedy output's 5th..7th tokens.
    stop = ref.decode(ids_g[4:7]).decode("utf-8", errors="ignore")
    if stop:
        text_s, _, _ = generate("--prompt", prompt, "--max-tokens", "16", *greedy,
                                "--stop", stop)
        full = ref.decode(ids_g).decode("utf-8", errors="ignore")
        check(text_s.decode("utf-8", errors="ignore") == full[:full.index(stop)],
              f"--stop {stop!r} cuts the output before it")

    prompt_file = w("prompt.txt")
    with open(prompt_file, "w") as f:
        f.write(prompt)
    text_f, _, _ = generate("--prompt-file", prompt_file, "--max-tokens", "8", *greedy)
    text_i, _, _ = generate("--max-tokens", "8", *greedy, stdin=prompt.encode())
    text_p, _, _ = generate("--prompt", prompt, "--max-tokens", "8", *greedy)
    check(text_f == text_p == text_i, "prompts from a file and stdin equal --prompt")

    chat, _, _ = generate("--chat", "--max-tokens", "5", *greedy,
                          stdin="hello\nhow are you?\n".encode())
    check(chat.count(b"Assistant:") == 2, "--chat answers each line of stdin")

    # Continuous batching: 6 prompts through 2 slots (finished replies'
    # slots take the next prompt), sampled with a stop string: each reply
    # must be what --prompt gives with the same options.
    prompts = [prompt, "The", "x", "Hello world, " * 20, "日本語テキスト",
               "User: what?\n\nAssistant:"]
    prompts_file = w("prompts.jsonl")
    with open(prompts_file, "w") as f:
        for i, p in enumerate(prompts):
            f.write(json.dumps(p if i % 2 else {"prompt": p}) + "\n\n")
    options = ["--max-tokens", "20", "--seed", "3", "--temperature", "0.8",
               "--stop", "ing"]
    proc = run([tool("modrwkv-run"), art, "--vocab", args.vocab,
                "--batch-prompts", prompts_file, "--batch-slots", "2",
                *options])
    replies = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    check(sorted(r["index"] for r in replies) == list(range(len(prompts))),
          f"--batch-prompts answers each of {len(prompts)} prompts once")
    same = 0
    for r in replies:
        text, ids, _ = generate("--prompt", prompts[r["index"]], *options)
        same += r["tokens"] == ids and r["text"] == text.decode(
            "utf-8", errors="replace") and r["finish"] in ("stop", "length")
    check(same == len(prompts), f"{same}/{len(prompts)} batched replies equal "
          f"their --prompt runs (text, ids)")
    check({r["finish"] for r in replies} == {"stop", "length"},
          "replies end at the stop string or at --max-tokens")
    check("decode steps of 2 slots" in proc.stderr.decode(),
          "the batch timing is reported on stderr")

    # With --state-in every prompt continues from the saved state.
    proc = run([tool("modrwkv-run"), art, "--vocab", args.vocab,
                "--batch-prompts", prompts_file, "--state-in", state,
                *options])
    replies = {json.loads(line)["index"]: json.loads(line)["tokens"]
               for line in proc.stdout.decode().splitlines()}
    _, ids, _ = generate("--prompt", prompts[1], "--state-in", state, *options)
    check(replies[1] == ids, "--batch-prompts --state-in continues each "
          "prompt from the state, as --prompt --state-in does")

    run_batch = [tool("modrwkv-run"), art, "--vocab", args.vocab,
                 "--batch-prompts"]
    bad_file = w("bad-prompts.jsonl")
    with open(bad_file, "w") as f:
        f.write('"fine"\n{"prompt": 3}\n')
    check.expect_error("a prompts line that is not a prompt",
                       run_batch + [bad_file], bad_file + ":2",
                       "not a JSON string")
    empty_file = w("no-prompts.jsonl")
    with open(empty_file, "w") as f:
        f.write("\n  \n")
    check.expect_error("a prompts file without prompts",
                       run_batch + [empty_file], empty_file, "no prompts")
    check.expect_error("--batch-prompts with --prompt",
                       run_batch + [prompts_file, "--prompt", "x"],
                       "--batch-prompts takes its prompts from the file")
    serial = w("artifact-no-batch")
    run([tool("modrwkv-compile"), ckpt, "-o", serial, "--batch-decode=0"])
    check.expect_error("an artifact without the batched entry",
                       [tool("modrwkv-run"), serial, "--vocab", args.vocab,
                        "--batch-prompts", prompts_file],
                       "artifact-no-batch", "no batched decode entry")

    check.finish()


if __name__ == "__main__":
    main()
