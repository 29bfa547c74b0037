#!/usr/bin/env bash
# GPU checks: build, then run the CUDA device-parity suite and the CUDA kernels' build.
# Fails (exit 1) when no CUDA GPU is visible. Usage: tools/gpu_check.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${1:-build}"
command -v nvidia-smi >/dev/null && nvidia-smi -L || { echo "gpu_check: no NVIDIA GPU visible" >&2; exit 1; }
tools/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMUSEFM_CUDA=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target musefm_gpu_tests musefm_gpu_attention_tests musefm_cuda_kernels
"$build/tests/gpu/musefm_gpu_tests"  # features, teachers, pretraining (CUDA, bf16, NCCL), probes,
                                    # inference precision (bf16 / fp16 against fp32)
"$build/tests/gpu/musefm_gpu_attention_tests"
