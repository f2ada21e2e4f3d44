"""Helpers shared by the end-to-end test scripts."""
import argparse
import os
import shutil
import subprocess
import sys

CUDA_HOME = os.environ.get("CUDA_HOME", "/usr/local/cuda")


def find_ptxas():
    """The CUDA toolkit's PTX assembler, or None."""
    found = shutil.which("ptxas")
    candidate = os.path.join(CUDA_HOME, "bin", "ptxas")
    return found or (candidate if os.access(candidate, os.X_OK) else None)


def run(cmd, stdin=None, env=None):
    """Runs `cmd` (in `env`, else this environment); exits the test with
    its output if it fails."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n"
                 f"{proc.stdout.decode(errors='replace')}"
                 f"{proc.stderr.decode(errors='replace')}")
    return proc


class Checks:
    """Counts checks, prints each, and closes with 'N passed, M failed'."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, label):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'ok  ' if ok else 'FAIL'} {label}")
        return ok

    def expect_error(self, label, cmd, *fragments, env=None):
        """`cmd` (in `env`, else this environment) must exit 1 with a
        message holding 'error' and every fragment (file names, tensor
        names), never crash or succeed."""
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        message = proc.stderr.strip()
        missing = [f for f in fragments if f not in message]
        last = message.splitlines()[-1] if message else "(no message)"
        ok = self(proc.returncode == 1 and "error" in message and not missing,
                  f"{label}: exit {proc.returncode}: {last}")
        if missing:
            print(f"     missing from the message: {missing}")
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def workspace(description):
    """Parses --tools and --workdir (created); returns `tool(name)` and
    `path(name)`, the paths of a tool and of a file in the workdir."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    return (lambda name: os.path.join(args.tools, name),
            lambda name: os.path.join(args.workdir, name))
