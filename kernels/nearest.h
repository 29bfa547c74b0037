// k-means assignment on the CPU kernels of kernels/cpu (the instruction set attention uses,
// fused_cpu_isa()): distances and arg-min fused, no [rows, K] matrix.
//
//   auto [idx, d2] = musefm::kernels::nearest_centroids(x, centroids);  // [n] int64, [n] f32
#pragma once

#include <ATen/core/Tensor.h>

#include <utility>

namespace musefm::kernels {

/// For each row of x [n, D] (float32, contiguous, CPU): the index of the nearest of centroids
/// [K, D] (float32, CPU; first index on ties) and the squared distance to it, computed as
/// ||x||^2 - 2 x.c + ||c||^2 in float32 and clamped at 0. Parallel over rows.
std::pair<at::Tensor, at::Tensor> nearest_centroids(const at::Tensor& x,
                                                    const at::Tensor& centroids);

}  // namespace musefm::kernels
