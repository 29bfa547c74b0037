// Internal: launchers of the CUDA flash-attention kernels (flash_forward.cu, flash_backward.cu).
// Compiled whenever nvcc is present; exercised on a GPU by benchmarks/gpu_attention.sh and on
// the CPU, through the same tile routines, by tests/test_cuda_tiles.cpp.
#pragma once

#include <cuda_runtime.h>

#include "cuda/flash_tile.h"

namespace musefm::kernels {

enum class CudaDType { F32, F16, BF16 };

/// o and lse from q, k, v (Params fields q, k, v, o, lse, key_mask, scale, dropout_p, seed).
/// Head dim D: 64 or 128. Returns cudaErrorInvalidValue for other D.
cudaError_t flash_attention_forward_cuda(const cuda_tile::Params& p, CudaDType dtype, int D,
                                         cudaStream_t stream);
/// dq, dk, dv from q, k, v, o, lse, dout; `p.delta` must point to B*H*Tq floats of scratch.
cudaError_t flash_attention_backward_cuda(const cuda_tile::Params& p, CudaDType dtype, int D,
                                          cudaStream_t stream);

}  // namespace musefm::kernels
