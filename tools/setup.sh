#!/usr/bin/env bash
# Sets up a fresh Debian bookworm machine and builds modrwkv into build/:
# installs the toolchain (LLVM/MLIR 22, clang-22, CMake, Ninja, libonnx and
# protobuf, stb for image decoding, LLVM's OpenMP runtime for threaded
# models), the test dependencies (GoogleTest, Debian's numpy, torch,
# torchaudio and onnx for the references, the generators and the ONNX node
# tests; transformers from PyPI for the Hugging Face towers), creates the
# Python venv the tests use (.venv, on top of Debian's packages), configures
# and builds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build git
  clang-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  nlohmann-json3-dev libgtest-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libomp-22-dev
  libstb-dev
  python3 python3-venv python3-numpy python3-torch python3-torchaudio
  python3-onnx python3-pil
  libopenblas0-pthread # the PyTorch baseline of bench/run.sh on OpenBLAS
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "== installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Test tooling only (the product is C++): Debian's python with its numpy and
# torch; nothing is fetched at run time.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -c "import numpy, torch, torchaudio, onnx, PIL" || {
  echo "setup: numpy/torch/torchaudio/onnx/PIL missing from the venv" >&2
  exit 1
}
# Hugging Face transformers from PyPI, for e2e-hf-towers: CLIP, SigLIP and
# Whisper towers built from small configs with random weights, exported to
# ONNX as users do (nothing is downloaded at test time).
.venv/bin/python -c "import transformers" 2>/dev/null ||
  .venv/bin/pip install --retries 5 -q "transformers==4.46.3"

cmake -G Ninja -S . -B build \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
  -DPython3_EXECUTABLE="$PWD/.venv/bin/python"
cmake --build build
