// Internal: small functional building blocks shared by the MERT and MusicFM forward passes.
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <cmath>
#include <string>

#include "attention.h"
#include "model/forward_context.h"
#include "model/int8_linear.h"
#include "model/weights.h"

namespace musefm::model_detail {

/// Dropout with probability `p` in training, identity otherwise.
inline at::Tensor dropout(const ForwardContext& ctx, const at::Tensor& x, double p) {
  return ctx.training && p > 0 ? at::dropout(x, p, true) : x;
}
/// Layerdrop: true when this layer is skipped (training only; draws from the default generator).
inline bool skip_layer(const ForwardContext& o) {
  return o.training && o.layerdrop > 0 && at::rand({1}, at::kDouble).item<double>() < o.layerdrop;
}

inline at::Tensor layer_norm(const at::Tensor& x, const Weights& w, const std::string& p,
                             double eps) {
  return at::layer_norm(x, {x.size(-1)}, w.at(p + ".weight"), w.at(p + ".bias"), eps);
}

inline at::Tensor linear(const at::Tensor& x, const Weights& w, const std::string& p) {
  return at::linear(x, w.at(p + ".weight"), w.at(p + ".bias"));
}

/// A linear layer of the encoder stack: int8 when the context carries packed int8 layers
/// (Precision::Int8), else as above.
inline at::Tensor linear(const ForwardContext& ctx, const at::Tensor& x, const Weights& w,
                         const std::string& p) {
  if (ctx.int8 != nullptr) {
    if (const c10::IValue* packed = ctx.int8->find(p)) {
      // float32 out of the int8 product; inside an autocast pass (int8 runs the rest as bf16)
      // the next ops get the autocast dtype, as after any other linear layer
      const at::Tensor y = Int8Linears::apply(*packed, x);
      const at::DeviceType dev = x.device().type();
      return at::autocast::is_autocast_enabled(dev) ? y.to(at::autocast::get_autocast_dtype(dev))
                                                    : y;
    }
  }
  return linear(x, w, p);
}

/// BatchNorm over dim 1: running statistics in inference; batch statistics in training (the
/// running statistics are updated in place, momentum 0.1).
inline at::Tensor batch_norm(const ForwardContext& ctx, const at::Tensor& x, const Weights& w,
                             const std::string& p) {
  return at::batch_norm(x, w.at(p + ".weight"), w.at(p + ".bias"), w.at(p + ".running_mean"),
                        w.at(p + ".running_var"), ctx.training, /*momentum=*/0.1,
                        /*eps=*/1e-5, /*cudnn_enabled=*/true);
}

/// softmax(q k^T / sqrt(d)) v over [B, H, T, D] with EncoderConfig::attention's implementation
/// (kernels/attention.h). `key_mask` (bool [B, T], true = real
/// frame) hides padded keys; undefined = no padding.
inline at::Tensor attend(const ForwardContext& o, const at::Tensor& q, const at::Tensor& k,
                         const at::Tensor& v, AttentionImpl kind, const at::Tensor& key_mask = {}) {
  return kernels::attention(q, k, v, key_mask, 0, o.training ? o.attention_dropout : 0.0,
                            kernels::parse_attention_impl(to_string(kind)));
}

/// Real-frame mask (bool [B, T]) for items of `frames[b]` valid frames; undefined when every
/// item fills all T frames (no padding, the fast unmasked path).
inline at::Tensor frame_mask(const std::vector<int64_t>& frames, int64_t T, const at::Device& dev) {
  bool padded = false;
  for (int64_t f : frames) padded |= f < T;
  if (!padded) return {};
  const at::Tensor n = at::tensor(frames, at::kLong).to(dev);
  return at::arange(T, at::TensorOptions(dev).dtype(at::kLong)).unsqueeze(0) < n.unsqueeze(1);
}

/// Zeroes padded frames of x [B, T, C] (mask [B, T]) or [B, C, T] (channels_first); no-op
/// without a mask. Padding must be zero where the unpadded pass sees a conv's zero padding.
inline at::Tensor zero_padding(const at::Tensor& x, const at::Tensor& mask,
                               bool channels_first = false) {
  if (!mask.defined()) return x;
  return x * (channels_first ? mask.unsqueeze(1) : mask.unsqueeze(2)).to(x.scalar_type());
}

}  // namespace musefm::model_detail
