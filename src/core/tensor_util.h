// Internal: small tensor helpers shared by the feature transforms, the models and the teachers.
#pragma once

#include <ATen/ATen.h>
#include <Eigen/Core>

#include <string>

#include "musefm/error.h"

namespace musefm::detail {

/// Copies a double Eigen matrix into a float32 CPU tensor of the same shape.
inline at::Tensor to_tensor(
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& m) {
  return at::from_blob(const_cast<double*>(m.data()), {m.rows(), m.cols()}, at::kDouble)
      .to(at::kFloat);
}
inline at::Tensor to_tensor(const Eigen::VectorXd& v) {
  return at::from_blob(const_cast<double*>(v.data()), {v.size()}, at::kDouble).to(at::kFloat);
}

/// Validates a waveform argument: [L] or [B, L], floating point, non-empty. Returns [B, L]
/// float32 (or the input's dtype if float64) and whether the input had no batch dimension.
inline at::Tensor as_batch(const at::Tensor& wav, const char* who, bool& unbatched) {
  MUSEFM_CHECK(wav.defined(), who, ": waveform tensor is undefined");
  MUSEFM_CHECK(wav.dim() == 1 || wav.dim() == 2, who,
               ": waveform must be [samples] or [batch, samples], got ", wav.dim(), " dims");
  MUSEFM_CHECK(at::isFloatingType(wav.scalar_type()), who,
               ": waveform must be floating point, got ",
               std::string(c10::toString(wav.scalar_type())));
  MUSEFM_CHECK(wav.size(-1) > 0, who, ": waveform is empty");
  unbatched = wav.dim() == 1;
  at::Tensor x = unbatched ? wav.unsqueeze(0) : wav;
  if (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble) x = x.to(at::kFloat);
  return x;
}

}  // namespace musefm::detail
