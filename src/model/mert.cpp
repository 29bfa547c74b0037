// MERT-v1 forward = transformers HubertModel (modeling_hubert.py), inference path:
//   conv stack (GroupNorm on layer 0 or LayerNorm on every layer, GELU) -> LayerNorm ->
//   Linear -> + weight-normed grouped positional conv (last frame dropped for even kernels,
//   GELU) -> post-LN (95M) or pre-LN (330M) transformer layers.
#include "model/mert.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <tuple>

#include "model/family.h"
#include "model/fft_conv.h"
#include "model/ops.h"

#include "musefm/error.h"

namespace musefm::model_detail {
namespace {

const at::Tensor& W(const Weights& w, const std::string& name) { return w.at(name); }

// HubertAttention: q/k/v projections, softmax(q k^T / sqrt(d)) v, output projection.
at::Tensor attention(const EncoderConfig& c, const Weights& w, const ForwardContext& ctx,
                     const std::string& p, const at::Tensor& h, const at::Tensor& key_mask) {
  const int64_t B = h.size(0), T = h.size(1), heads = c.num_attention_heads,
                d = c.hidden_size / heads;
  auto split = [&](const at::Tensor& x) { return x.view({B, T, heads, d}).transpose(1, 2); };
  // One GEMM for q, k and v (weights concatenated on load, fuse_projections()).
  const auto qkv = linear(ctx, h, w, p + ".qkv_proj").chunk(3, -1);
  const at::Tensor q = split(qkv[0]), k = split(qkv[1]), v = split(qkv[2]);
  const at::Tensor o = attend(ctx, q, k, v, c.attention, key_mask);
  return dropout(ctx,
                 linear(ctx, o.transpose(1, 2).reshape({B, T, c.hidden_size}), w, p + ".out_proj"),
                 ctx.dropout);
}

// Frames of each item after conv layer i (valid convolution).
std::vector<int64_t> conv_frames(const EncoderConfig& c, size_t i, std::vector<int64_t> n) {
  for (auto& v : n) v = v < c.conv_kernel[i] ? 0 : (v - c.conv_kernel[i]) / c.conv_stride[i] + 1;
  return n;
}

at::Tensor feed_forward(const ForwardContext& o, const Weights& w, const std::string& p,
                        const at::Tensor& h) {
  const at::Tensor a =
      dropout(o, at::gelu(linear(o, h, w, p + ".intermediate_dense")), o.activation_dropout);
  return dropout(o, linear(o, a, w, p + ".output_dense"), o.dropout);
}

at::Tensor positional_embedding(const EncoderConfig& c, const Weights& w, const at::Tensor& h) {
  const int64_t K = c.num_conv_pos_embeddings;
  // Kernel of 128 frames: through FFTs (~9x fewer operations than the direct conv).
  at::Tensor pos = conv1d_fft(h.transpose(1, 2), W(w, "encoder.pos_conv_embed.conv.weight"),
                              W(w, "encoder.pos_conv_embed.conv.bias"), /*padding=*/K / 2,
                              c.num_conv_pos_embedding_groups);
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

namespace {
// Layer-0 GroupNorm statistics (one group per channel) over each item's real frames, computed
// slice by slice with float64 accumulation: mean and 1 / sqrt(var + eps), [B, C, 1] each.
std::pair<at::Tensor, at::Tensor> group_norm_stats(const EncoderConfig& c, const Weights& w,
                                                   const at::Tensor& x,
                                                   const std::vector<int64_t>& frames0) {
  const int64_t k0 = c.conv_kernel[0], s0 = c.conv_stride[0], B = x.size(0);
  const int64_t T0 = x.size(1) < k0 ? 0 : (x.size(1) - k0) / s0 + 1, slice = 16384;
  const std::string p = "feature_extractor.conv_layers.0";
  const at::Tensor bias = c.conv_bias ? W(w, p + ".conv.bias") : at::Tensor();
  const auto dopts = x.options().dtype(at::kDouble);
  at::Tensor sum = at::zeros({B, c.conv_dim[0]}, dopts), sq = at::zeros({B, c.conv_dim[0]}, dopts);
  const int64_t shortest = *std::min_element(frames0.begin(), frames0.end());
  const at::Tensor count = at::tensor(frames0, at::kLong).to(x.device());
  for (int64_t f0 = 0; f0 < T0; f0 += slice) {
    const int64_t f1 = std::min(T0, f0 + slice);
    at::Tensor y = at::conv1d(x.narrow(1, f0 * s0, (f1 - 1 - f0) * s0 + k0).unsqueeze(1),
                              W(w, p + ".conv.weight"), bias, s0);
    if (f1 > shortest)  // a slice past some item's end: zero that item's padding frames
      y = y * (at::arange(f0, f1, count.options()).unsqueeze(0) < count.unsqueeze(1))
                  .to(y.scalar_type())
                  .unsqueeze(1);
    // Sums accumulate in float64 without a float64 copy of the activations; the squares are
    // rounded to float first (relative error 2^-24 per term, far below the GroupNorm eps).
    sum += y.sum(2, false, at::kDouble);
    sq += y.square().sum(2, false, at::kDouble);
  }
  const at::Tensor n = count.to(at::kDouble).unsqueeze(1);
  const at::Tensor mean = sum / n;
  const at::Tensor var = (sq / n - mean * mean).clamp_min(0);
  return {mean.to(at::kFloat).unsqueeze(2), at::rsqrt(var + 1e-5).to(at::kFloat).unsqueeze(2)};
}

// Output frames per chunk of the conv stack (~2.6 s at 75 Hz): every activation of a chunk
// stays small (layer 0: ~25 MB at 512 channels) and is reused from the heap, instead of
// whole-window tensors of hundreds of MB that are mapped and faulted in on every window.
constexpr int64_t kConvChunkFrames = 192;
}  // namespace

at::Tensor mert_extract_features(const EncoderConfig& c, const Weights& w, const at::Tensor& x,
                                 const ForwardContext& ctx, const std::vector<int64_t>& lengths) {
  const std::vector<int64_t> n =
      lengths.empty() ? std::vector<int64_t>(size_t(x.size(0)), x.size(1)) : lengths;
  int64_t hop = 1, field = 1;
  for (size_t i = c.conv_kernel.size(); i-- > 0;)
    field = (field - 1) * c.conv_stride[i] + c.conv_kernel[i];
  for (int s : c.conv_stride) hop *= s;
  const int64_t T = mert_num_frames(c, x.size(1));
  if (ctx.training && lengths.empty()) {
    // Training crops are short and unpadded: the whole stack in one pass with the native
    // GroupNorm (fewer passes over layer 0's activations, a fused backward), as HF's
    // HubertGroupNormConvLayer.
    at::Tensor h = x.unsqueeze(1);
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
      const at::Tensor bias = c.conv_bias ? W(w, p + ".conv.bias") : at::Tensor();
      h = at::conv1d(h, W(w, p + ".conv.weight"), bias, c.conv_stride[i]);
      if (c.feat_extract_norm == FeatExtractNorm::Group && i == 0) {
        h = at::group_norm(h, c.conv_dim[0], W(w, p + ".layer_norm.weight"),
                           W(w, p + ".layer_norm.bias"), 1e-5);
      } else if (c.feat_extract_norm == FeatExtractNorm::Layer) {
        h = layer_norm(h.transpose(1, 2), w, p + ".layer_norm", 1e-5).transpose(1, 2);
      }
      h = at::gelu(h);
    }
    MUSEFM_CHECK(h.size(2) == T && T > 0, "MERT conv stack: input of ", x.size(1),
                 " samples gives no frame");
    return h.transpose(1, 2);
  }
  // GroupNorm(num_groups = channels) on layer 0 normalises each channel over the whole clip
  // (only over each item's own frames when padded); later valid convolutions never read past
  // an item's end, so the stack can then run chunk by chunk on the shared frame grid.
  at::Tensor mean, inv_std;
  if (c.feat_extract_norm == FeatExtractNorm::Group)
    std::tie(mean, inv_std) = group_norm_stats(c, w, x, conv_frames(c, 0, n));
  std::vector<at::Tensor> chunks;
  for (int64_t a = 0; a < T; a += kConvChunkFrames) {
    const int64_t b = std::min(T, a + kConvChunkFrames);
    at::Tensor h = x.narrow(1, a * hop, (b - 1 - a) * hop + field).unsqueeze(1);
    for (size_t i = 0; i < c.conv_dim.size(); ++i) {
      const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
      const at::Tensor bias = c.conv_bias ? W(w, p + ".conv.bias") : at::Tensor();
      h = at::conv1d(h, W(w, p + ".conv.weight"), bias, c.conv_stride[i]);
      if (c.feat_extract_norm == FeatExtractNorm::Group && i == 0) {
        h = at::addcmul(W(w, p + ".layer_norm.bias").view({1, -1, 1}), (h - mean) * inv_std,
                        W(w, p + ".layer_norm.weight").view({1, -1, 1}));
      } else if (c.feat_extract_norm == FeatExtractNorm::Layer) {
        h = layer_norm(h.transpose(1, 2), w, p + ".layer_norm", 1e-5).transpose(1, 2);
      }
      h = at::gelu(h);
    }
    MUSEFM_CHECK(h.size(2) == b - a, "MERT conv stack: chunk of ", b - a, " frames gave ",
                 h.size(2));
    chunks.push_back(h);
  }
  MUSEFM_CHECK(!chunks.empty(), "MERT conv stack: input of ", x.size(1), " samples gives no frame");
  return at::cat(chunks, 2).transpose(1, 2);
}

std::vector<at::Tensor> mert_forward(const EncoderConfig& c, const Weights& w, const at::Tensor& x,
                                     const ForwardContext& opt, const std::vector<int64_t>& lengths,
                                     const HybridInputs& hybrid, int num_states) {
  const size_t wanted =
      size_t(num_states > 0 ? std::min(num_states, c.num_hidden_states()) : c.num_hidden_states());
  at::Tensor conv = mert_extract_features(c, w, x, opt, lengths);
  if (opt.training && opt.feature_grad_mult != 1.0)  // fairseq's GradMultiply
    conv = conv * opt.feature_grad_mult + conv.detach() * (1.0 - opt.feature_grad_mult);
  if (opt.features_out) *opt.features_out = conv;  // features_pen sees the scaled gradient too
  const at::Tensor feats = fuse_hybrid(c, w, conv, hybrid);
  std::vector<int64_t> frames;
  for (int64_t n : lengths) frames.push_back(mert_num_frames(c, n));
  const at::Tensor mask = frame_mask(frames, feats.size(1), feats.device());
  const double eps = c.layer_norm_eps;
  at::Tensor h =
      c.feat_proj_layer_norm ? layer_norm(feats, w, "feature_projection.layer_norm", 1e-5) : feats;
  h = dropout(opt, linear(h, w, "feature_projection.projection"), opt.dropout_input);
  if (opt.after_projection) h = opt.after_projection(h);
  h = zero_padding(h, mask);  // HubertEncoder zeroes padded frames before the positional conv
  h = h + positional_embedding(c, w, h);
  std::vector<at::Tensor> states;
  if (!c.do_stable_layer_norm) {  // HubertEncoder (post-LN)
    h = dropout(opt, layer_norm(h, w, "encoder.layer_norm", eps), opt.dropout);
    states.push_back(h);
    for (int n = 0; n < c.num_hidden_layers && states.size() < wanted; ++n) {
      const std::string p = "encoder.layers." + std::to_string(n);
      if (!skip_layer(opt)) {
        h = layer_norm(h + attention(c, w, opt, p + ".attention", h, mask), w, p + ".layer_norm",
                       eps);
        h = layer_norm(h + feed_forward(opt, w, p + ".feed_forward", h), w, p + ".final_layer_norm",
                       eps);
      }
      states.push_back(h);
    }
  } else {  // HubertEncoderStableLayerNorm (pre-LN)
    h = dropout(opt, h, opt.dropout);
    for (int n = 0; n < c.num_hidden_layers; ++n) {
      const std::string p = "encoder.layers." + std::to_string(n);
      states.push_back(h);
      if (states.size() == wanted) return states;
      if (skip_layer(opt)) continue;
      h = h +
          attention(c, w, opt, p + ".attention", layer_norm(h, w, p + ".layer_norm", eps), mask);
      h = h +
          feed_forward(opt, w, p + ".feed_forward", layer_norm(h, w, p + ".final_layer_norm", eps));
    }
    states.push_back(layer_norm(h, w, "encoder.layer_norm", eps));
  }
  return states;
}

namespace {

class MertForward final : public FamilyForward {
 public:
  explicit MertForward(const EncoderConfig& c) : c_(c) {
    if (c.hybrid_features != HybridFeatures::None) hybrid_.emplace(c);
  }

  at::Tensor features(const Weights& w, const at::Tensor& x,
                      const ForwardContext& ctx) const override {
    return mert_extract_features(c_, w, x, ctx);
  }

  std::vector<at::Tensor> forward(const Weights& w, const at::Tensor& x, const ForwardContext& ctx,
                                  int num_states) const override {
    HybridInputs extra;
    if (hybrid_) {
      at::NoGradGuard no_grad;
      extra = (*hybrid_)(x, mert_num_frames(c_, x.size(1)));
    }
    return mert_forward(c_, w, x, ctx, {}, extra, num_states);
  }

  std::vector<at::Tensor> forward_padded(const Weights& w, const std::vector<at::Tensor>& waveforms,
                                         const std::vector<int64_t>& frames,
                                         const at::Device& device, const ForwardContext& ctx,
                                         int num_states) const override {
    const int64_t B = int64_t(waveforms.size());
    const auto opts = at::TensorOptions(device).dtype(at::kFloat);
    std::vector<int64_t> lengths;
    for (const auto& wav : waveforms) lengths.push_back(wav.size(0));
    at::Tensor x = at::zeros({B, *std::max_element(lengths.begin(), lengths.end())}, opts);
    for (int64_t b = 0; b < B; ++b)
      x[b].narrow(0, 0, lengths[size_t(b)]).copy_(waveforms[size_t(b)]);
    HybridInputs extra;
    if (hybrid_) {  // per item (centred frames reflect at each item's end), then padded
      at::NoGradGuard no_grad;
      const int64_t T = *std::max_element(frames.begin(), frames.end());
      const auto pad = [&](at::Tensor& all, const at::Tensor& one, int64_t b) {
        if (!one.defined()) return;
        if (!all.defined()) all = at::zeros({B, T, one.size(2)}, opts);
        all[b].narrow(0, 0, one.size(1)).copy_(one[0]);
      };
      for (int64_t b = 0; b < B; ++b) {
        const auto one =
            (*hybrid_)(waveforms[size_t(b)].to(device, at::kFloat).unsqueeze(0), frames[size_t(b)]);
        pad(extra.cqt, one.cqt, b);
        pad(extra.mel, one.mel, b);
      }
    }
    return mert_forward(c_, w, x, ctx, lengths, extra, num_states);
  }

 private:
  EncoderConfig c_;
  std::optional<HybridFrontEnd> hybrid_;  ///< CQT / mel frames (config.hybrid_features)
};

class MertFamily final : public ModelFamily {
 public:
  WeightSpec weight_spec(const EncoderConfig& c) const override { return mert_weight_spec(c); }
  std::vector<WeightNormed> weight_norms(const EncoderConfig&) const override {
    return {{"encoder.pos_conv_embed.conv", 2}};
  }
  std::vector<FusedProjection> fused_projections(const EncoderConfig& c) const override {
    std::vector<FusedProjection> f;
    for (int n = 0; n < c.num_hidden_layers; ++n)
      f.push_back({"encoder.layers." + std::to_string(n) + ".attention.",
                   "qkv_proj",
                   {"q_proj", "k_proj", "v_proj"}});
    return f;
  }
  int64_t num_frames(const EncoderConfig& c, int64_t n) const override {
    return mert_num_frames(c, n);
  }
  // The conv stack's receptive field (MERT-v1: 400 samples).
  double frame_rate(const EncoderConfig& c) const override {
    int64_t hop = 1;
    for (int s : c.conv_stride) hop *= s;
    return double(c.sample_rate) / double(hop);
  }
  int64_t min_samples(const EncoderConfig& c) const override {
    int64_t r = 1;
    for (size_t i = c.conv_kernel.size(); i-- > 0;)
      r = (r - 1) * c.conv_stride[i] + c.conv_kernel[i];
    return r;
  }
  int64_t feature_channels(const EncoderConfig& c) const override { return c.conv_dim.back(); }
  std::string mask_embedding() const override { return "masked_spec_embed"; }
  bool feature_tap() const override { return true; }
  std::unique_ptr<FamilyForward> forward_pass(const EncoderConfig& c) const override {
    return std::make_unique<MertForward>(c);
  }
};
}  // namespace

const ModelFamily& mert_family() {
  static const MertFamily family;
  return family;
}

}  // namespace musefm::model_detail
