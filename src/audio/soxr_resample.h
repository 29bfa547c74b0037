// Internal: librosa.resample(..., res_type="soxr_hq") through libsoxr, bit-identical to python-soxr
// on x86_64 (same engine, cr32s).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace musefm::features_detail {

/// Downsamples `n` float32 samples by an integer `factor` (2 for librosa's per-octave step,
/// 2^k for its early downsampling): soxr_quality_spec(SOXR_HQ, 0), float32 in and out; then
/// util.fix_length to ceil(n / factor) (zero-padded at the end) and the `scale=True` factor,
/// y / sqrt(1 / factor), computed in double and rounded to float32 as numpy does.
std::vector<float> soxr_downsample(const float* samples, int64_t n, int factor);

/// librosa.resample(y, orig_sr=from_rate, target_sr=to_rate, res_type="soxr_hq") (fix=True,
/// scale=False), what librosa.load(path, sr=to_rate) does to a file at from_rate: the soxr HQ
/// output cut or zero-padded to ceil(n * to_rate / from_rate) samples. from_rate == to_rate
/// returns the input.
std::vector<float> soxr_resample(const float* samples, int64_t n, int from_rate, int to_rate);

/// The same per row of a [B, L] float32 CPU tensor; returns [B, ceil(L / factor)].
at::Tensor soxr_downsample(const at::Tensor& batch, int factor);

}  // namespace musefm::features_detail
