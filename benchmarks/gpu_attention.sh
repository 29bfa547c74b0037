#!/usr/bin/env bash
# CUDA flash-attention kernels on a GPU machine: build, check correctness against float64
# (fp32 / fp16 / bf16, head dims 64 and 128, padding, forward and backward), then time them
# against at::scaled_dot_product_attention (B=1, H=12, D=64, T = 375..4500).
# Exits 1 with a clear message when no CUDA GPU is visible.
# Usage: benchmarks/gpu_attention.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${1:-build-gpu}"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_attention: no NVIDIA GPU visible; the CUDA kernels are only compiled on this machine" >&2
  exit 1
fi
nvidia-smi -L
tools/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMUSEFM_CUDA=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target musefm_gpu_attention_tests bench_gpu_attention
"$build/tests/gpu/musefm_gpu_attention_tests"
"$build/benchmarks/bench_gpu_attention"
