// MERT-v1 forward = transformers HubertModel (modeling_hubert.py), inference path:
//   conv stack (GroupNorm on layer 0 or LayerNorm on every layer, GELU) -> LayerNorm ->
//   Linear -> + weight-normed grouped positional conv (last frame dropped for even kernels,
//   GELU) -> post-LN (95M) or pre-LN (330M) transformer layers.
#include "model/mert.h"

#include "model/ops.h"

#include "musefm/error.h"

namespace musefm::model_detail {
namespace {

const at::Tensor& W(const Weights& w, const std::string& name) { return w.at(name); }

// HubertAttention: q/k/v projections, softmax(q k^T / sqrt(d)) v, output projection.
at::Tensor attention(const EncoderConfig& c, const Weights& w, const std::string& p,
                     const at::Tensor& h, const at::Tensor& key_mask) {
  const int64_t B = h.size(0), T = h.size(1), heads = c.num_attention_heads,
                d = c.hidden_size / heads;
  auto split = [&](const at::Tensor& x) { return x.view({B, T, heads, d}).transpose(1, 2); };
  // One GEMM for q, k and v (weights concatenated on load, fuse_projections()).
  const auto qkv = linear(h, w, p + ".qkv_proj").chunk(3, -1);
  const at::Tensor q = split(qkv[0]), k = split(qkv[1]), v = split(qkv[2]);
  const at::Tensor o = attend(q, k, v, c.attention, key_mask);
  return linear(o.transpose(1, 2).reshape({B, T, c.hidden_size}), w, p + ".out_proj");
}

// GroupNorm with one group per channel over the real frames of each item only (mask [B, T]),
// so a padded item is normalised exactly as it would be alone.
at::Tensor masked_group_norm(const at::Tensor& h, const at::Tensor& mask, const at::Tensor& weight,
                             const at::Tensor& bias, double eps) {
  if (!mask.defined()) return at::group_norm(h, h.size(1), weight, bias, eps);
  const at::Tensor m = mask.unsqueeze(1).to(h.scalar_type());  // [B, 1, T]
  const at::Tensor count = m.sum(2, /*keepdim=*/true);
  const at::Tensor mean = (h * m).sum(2, true) / count;
  const at::Tensor var = ((h - mean).pow(2) * m).sum(2, true) / count;
  return (h - mean) * at::rsqrt(var + eps) * weight.view({1, -1, 1}) + bias.view({1, -1, 1});
}

// Frames of each item after conv layer i (valid convolution).
std::vector<int64_t> conv_frames(const EncoderConfig& c, size_t i, std::vector<int64_t> n) {
  for (auto& v : n) v = v < c.conv_kernel[i] ? 0 : (v - c.conv_kernel[i]) / c.conv_stride[i] + 1;
  return n;
}

at::Tensor feed_forward(const Weights& w, const std::string& p, const at::Tensor& h) {
  return linear(at::gelu(linear(h, w, p + ".intermediate_dense")), w, p + ".output_dense");
}

at::Tensor positional_embedding(const EncoderConfig& c, const Weights& w, const at::Tensor& h) {
  const int64_t K = c.num_conv_pos_embeddings;
  at::Tensor pos = at::conv1d(h.transpose(1, 2), W(w, "encoder.pos_conv_embed.conv.weight"),
                              W(w, "encoder.pos_conv_embed.conv.bias"), /*stride=*/1,
                              /*padding=*/K / 2, /*dilation=*/1, c.num_conv_pos_embedding_groups);
  if (K % 2 == 0) pos = pos.narrow(2, 0, pos.size(2) - 1);  // HubertSamePadLayer
  return at::gelu(pos).transpose(1, 2);
}
}  // namespace

int64_t mert_num_frames(const EncoderConfig& c, int64_t n) {
  for (size_t i = 0; i < c.conv_kernel.size(); ++i) {
    if (n < c.conv_kernel[i]) return 0;
    n = (n - c.conv_kernel[i]) / c.conv_stride[i] + 1;
  }
  return n;
}

at::Tensor mert_extract_features(const EncoderConfig& c, const Weights& w, const at::Tensor& x,
                                 const std::vector<int64_t>& lengths) {
  std::vector<int64_t> n =
      lengths.empty() ? std::vector<int64_t>(size_t(x.size(0)), x.size(1)) : lengths;
  at::Tensor h = x.unsqueeze(1);
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    const at::Tensor bias = c.conv_bias ? W(w, p + ".conv.bias") : at::Tensor();
    h = at::conv1d(h, W(w, p + ".conv.weight"), bias, c.conv_stride[i]);
    n = conv_frames(c, i, n);
    if (c.feat_extract_norm == "group" && i == 0) {
      // GroupNorm(num_groups = channels): each channel normalised over the whole clip. Only
      // this layer needs the mask: later valid convolutions never read past an item's end.
      h = masked_group_norm(h, frame_mask(n, h.size(2), h.device()), W(w, p + ".layer_norm.weight"),
                            W(w, p + ".layer_norm.bias"), 1e-5);
    } else if (c.feat_extract_norm == "layer") {
      h = layer_norm(h.transpose(1, 2), w, p + ".layer_norm", 1e-5).transpose(1, 2);
    }
    h = at::gelu(h);
  }
  return h.transpose(1, 2);
}

void mert_fuse_projections(const EncoderConfig& c, Weights& w) {
  for (int n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "encoder.layers." + std::to_string(n) + ".attention.";
    for (const char* t : {".weight", ".bias"})
      w[p + "qkv_proj" + t] =
          at::cat({w.at(p + "q_proj" + t), w.at(p + "k_proj" + t), w.at(p + "v_proj" + t)})
              .contiguous();
  }
}

std::vector<at::Tensor> mert_forward(const EncoderConfig& c, const Weights& w, const at::Tensor& x,
                                     const std::vector<int64_t>& lengths,
                                     const HybridInputs& hybrid, int num_states) {
  const size_t wanted =
      size_t(num_states > 0 ? std::min(num_states, c.num_hidden_states()) : c.num_hidden_states());
  const at::Tensor feats = fuse_hybrid(c, w, mert_extract_features(c, w, x, lengths), hybrid);
  std::vector<int64_t> frames;
  for (int64_t n : lengths) frames.push_back(mert_num_frames(c, n));
  const at::Tensor mask = frame_mask(frames, feats.size(1), feats.device());
  const double eps = c.layer_norm_eps;
  at::Tensor h =
      c.feat_proj_layer_norm ? layer_norm(feats, w, "feature_projection.layer_norm", 1e-5) : feats;
  h = linear(h, w, "feature_projection.projection");
  h = zero_padding(h, mask);  // HubertEncoder zeroes padded frames before the positional conv
  h = h + positional_embedding(c, w, h);
  std::vector<at::Tensor> states;
  if (!c.do_stable_layer_norm) {  // HubertEncoder (post-LN)
    h = layer_norm(h, w, "encoder.layer_norm", eps);
    states.push_back(h);
    for (int n = 0; n < c.num_hidden_layers && states.size() < wanted; ++n) {
      const std::string p = "encoder.layers." + std::to_string(n);
      h = layer_norm(h + attention(c, w, p + ".attention", h, mask), w, p + ".layer_norm", eps);
      h = layer_norm(h + feed_forward(w, p + ".feed_forward", h), w, p + ".final_layer_norm", eps);
      states.push_back(h);
    }
  } else {  // HubertEncoderStableLayerNorm (pre-LN)
    for (int n = 0; n < c.num_hidden_layers; ++n) {
      const std::string p = "encoder.layers." + std::to_string(n);
      states.push_back(h);
      if (states.size() == wanted) return states;
      h = h + attention(c, w, p + ".attention", layer_norm(h, w, p + ".layer_norm", eps), mask);
      h = h + feed_forward(w, p + ".feed_forward", layer_norm(h, w, p + ".final_layer_norm", eps));
    }
    states.push_back(layer_norm(h, w, "encoder.layer_norm", eps));
  }
  return states;
}

}  // namespace musefm::model_detail
