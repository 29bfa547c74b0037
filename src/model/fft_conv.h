// Internal: grouped 1-D convolution computed with FFTs (overlap-save), for long kernels.
#pragma once

#include <ATen/core/Tensor.h>

namespace musefm::model_detail {

/// Same result as at::conv1d(x, weight, bias, /*stride=*/1, padding, /*dilation=*/1, groups)
/// for x [B, C_in, T] and weight [C_out, C_in / groups, K], up to float rounding (the FFTs
/// run in float32; the result has x's dtype). Work is O(T log K) per channel pair instead of
/// O(T K): MERT's positional conv (K = 128, 16 groups) costs ~9x less than the direct conv.
at::Tensor conv1d_fft(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                      int64_t padding, int64_t groups);

}  // namespace musefm::model_detail
