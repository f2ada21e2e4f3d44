#!/usr/bin/env python3
"""Runs the ONNX node-test suite through modrwkv-onnx-test and compares each
test's status with expected_status.txt, so that a regression (or a test that
starts passing without the list being updated) fails.

  check_suite.py TOOL SUITE_DIR EXPECTED [--jobs N] [--summary FILE]
                 [--update] [--tool-arg ARG ...] [--overrides FILE]

--update rewrites EXPECTED with the statuses of this run (keeping the header
and the reasons given for expected failures); review the diff. --overrides
lists the tests whose status differs on another target (--tool-arg
--cuda-emulator: the CUDA path on the emulator), each with its reason.
"""
import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def read_expected(path):
    """Returns ({name: status}, {name: reason}, header lines)."""
    expected, reasons, header = {}, {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                header.append(line.rstrip("\n"))
                continue
            body, _, reason = line.partition("#")
            if not body.strip():
                continue
            name, status = body.split()[:2]
            expected[name] = status
            if reason.strip():
                reasons[name] = reason.strip()
    return expected, reasons, header


def write_expected(path, results, reasons, header):
    with open(path, "w") as f:
        for line in header:
            f.write(line + "\n")
        for name, (status, _) in sorted(results.items()):
            reason = reasons.get(name) if status == "FAIL" else None
            f.write(f"{name} {status}" + (f"  # {reason}" if reason else "")
                    + "\n")


def run_chunk(tool, dirs):
    proc = subprocess.run(tool + dirs, capture_output=True, text=True)
    results = {}
    for line in proc.stdout.splitlines():
        for status in ("PASS", "FAIL", "UNSUPPORTED"):
            if line.startswith(status + " "):
                name = line[len(status) + 1:].split(":")[0].split(" ")[0]
                results[name] = (status, line)
    missing = [d for d in dirs if os.path.basename(d) not in results]
    if missing:
        sys.exit(f"modrwkv-onnx-test exited {proc.returncode} without a "
                 f"result for {missing[0]} ...\n{proc.stderr[-2000:]}")
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool")
    ap.add_argument("suite")
    ap.add_argument("expected")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--summary")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--overrides",
                    help="statuses that differ on this target (the same "
                    "format as EXPECTED, reasons required)")
    ap.add_argument("--tool-arg", action="append", default=[],
                    help="an option for the tool (repeatable), e.g. "
                    "--tool-arg=--cuda-emulator")
    args = ap.parse_args()
    tool = [args.tool] + args.tool_arg

    node = os.path.join(args.suite, "node")
    dirs = sorted(os.path.join(node, d) for d in os.listdir(node))
    chunks = [dirs[i::args.jobs] for i in range(args.jobs)]
    results = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for r in pool.map(lambda c: run_chunk(tool, c), chunks):
            results.update(r)

    expected, reasons, header = read_expected(args.expected)
    if args.overrides:
        changed, why, _ = read_expected(args.overrides)
        missing = sorted(set(changed) - set(why))
        if missing:
            sys.exit(f"{args.overrides}: no reason given for {missing}")
        expected.update(changed)
    if args.update:
        write_expected(args.expected, results, reasons, header)
        expected = {name: status for name, (status, _) in results.items()}
    problems = []
    for name, (status, line) in sorted(results.items()):
        want = expected.get(name)
        if want is None:
            problems.append(f"new test {name}: {line}")
        elif want != status:
            problems.append(f"{name}: expected {want}, got {line}")
    for name in sorted(set(expected) - set(results)):
        problems.append(f"{name}: listed but not in the suite")

    counts = {s: sum(1 for v, _ in results.values() if v == s)
              for s in ("PASS", "FAIL", "UNSUPPORTED")}
    summary = (f"ONNX node tests: {len(results)} total, {counts['PASS']} "
               f"passed, {counts['UNSUPPORTED']} unsupported, "
               f"{counts['FAIL']} failed (expected failures are listed "
               f"with reasons in {os.path.basename(args.expected)})")
    print(summary)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(summary + "\n")
            for name, (status, line) in sorted(results.items()):
                f.write(line + "\n")
    if problems:
        print(f"{len(problems)} tests differ from the expected status:")
        for p in problems:
            print("  " + p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
