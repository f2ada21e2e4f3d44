"""Helpers shared by the end-to-end test scripts."""
import subprocess
import sys


def run(cmd, stdin=None):
    """Runs `cmd`; exits the test with its output if it fails."""
    proc = subprocess.run(cmd, input=stdin, capture_output=True)
    if proc.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n"
                 f"{proc.stdout.decode(errors='replace')}"
                 f"{proc.stderr.decode(errors='replace')}")
    return proc
