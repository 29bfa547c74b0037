// MusicFM 25 Hz = minzwon/musicfm model/musicfm_25hz.py, inference path:
//   log-mel (torchaudio MelSpectrogram + AmplitudeToDB, last frame dropped) -> (x - mean) / std ->
//   two Res2d blocks (3x3 convs, stride 2 in time and frequency, BatchNorm, ReLU, conv shortcut)
//   -> "b c f t -> b t (c f)" -> Linear -> Wav2Vec2-Conformer encoder (rotary attention).
// The conformer follows transformers' Wav2Vec2ConformerEncoder as MusicFM copies it: rotary
// embeddings rotate the layer-normed hidden states *before* linear_q / linear_k (values stay
// unrotated), the positional conv is never applied, and each layer is
//   h += 0.5 FFN1(LN h); h += Attn(LN h); h += Conv(h); h += 0.5 FFN2(LN h); h = LN_final(h).
#include "model/musicfm.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <memory>

#include "model/family.h"
#include "model/hybrid.h"
#include "model/ops.h"
#include "model/precision.h"
#include "musefm/error.h"
#include "musefm/features.h"

namespace musefm::model_detail {
namespace {

// The conformer layers' LayerNorms use PyTorch's default eps; only the encoder's final
// LayerNorm takes config.layer_norm_eps (as in Wav2Vec2ConformerEncoder).
constexpr double kLayerEps = 1e-5;

// Frames after a stride-2, pad-1, 3-tap convolution: ceil(n / 2).
std::vector<int64_t> halved(std::vector<int64_t> n) {
  for (auto& v : n) v = (v + 1) / 2;
  return n;
}

// x [B, C, F, T] with real frames `in` (zero beyond); returns the block output, zero beyond
// its real frames so the next 3x3 convolution reads zeros where the unpadded pass pads.
at::Tensor res2d(const ForwardContext& ctx, const Weights& w, const std::string& p,
                 const at::Tensor& x, const std::vector<int64_t>& in) {
  const auto conv = [&](const at::Tensor& t, const char* name, int64_t stride) {
    return at::conv2d(t, w.at(p + "." + name + ".weight"), w.at(p + "." + name + ".bias"),
                      {stride, stride}, {1, 1});
  };
  at::Tensor out = at::relu(batch_norm(ctx, conv(x, "conv1", 2), w, p + ".bn1"));
  const at::Tensor mask = frame_mask(halved(in), out.size(3), x.device());
  const auto zero = [&](const at::Tensor& t) {
    return mask.defined() ? t * mask.view({mask.size(0), 1, 1, mask.size(1)}).to(t.scalar_type())
                          : t;
  };
  out = batch_norm(ctx, conv(zero(out), "conv2", 1), w, p + ".bn2");
  const at::Tensor shortcut = batch_norm(ctx, conv(x, "conv3", 2), w, p + ".bn3");
  return zero(at::relu(out + shortcut));
}

at::Tensor feed_forward(const ForwardContext& o, const Weights& w, const std::string& p,
                        const at::Tensor& h) {
  const at::Tensor a =
      dropout(o, at::silu(linear(o, h, w, p + ".intermediate_dense")), o.activation_dropout);
  return dropout(o, linear(o, a, w, p + ".output_dense"), o.dropout);
}

// cos / sin tables [T, D] of HF's Wav2Vec2ConformerRotaryPositionalEmbedding:
// angle(t, i) = t * inv_freq[i mod D/2].
std::pair<at::Tensor, at::Tensor> rotary_tables(const at::Tensor& inv_freq, int64_t T) {
  const at::Tensor t = at::arange(T, inv_freq.options());
  const at::Tensor freqs = at::outer(t, inv_freq);
  const at::Tensor angles = at::cat({freqs, freqs}, -1);
  return {angles.cos(), angles.sin()};
}

// x [B, T, heads, D]: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1).
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

at::Tensor self_attention(const EncoderConfig& c, const Weights& w, const ForwardContext& ctx,
                          const std::string& p, const at::Tensor& h, const at::Tensor& cos,
                          const at::Tensor& sin, const at::Tensor& mask) {
  const int64_t B = h.size(0), T = h.size(1), heads = c.num_attention_heads,
                d = c.hidden_size / heads;
  const at::Tensor qk_in =
      apply_rotary(h.view({B, T, heads, d}), cos, sin).reshape({B, T, c.hidden_size});
  auto split = [&](const at::Tensor& x) { return x.view({B, T, heads, d}).transpose(1, 2); };
  const auto qk = linear(ctx, qk_in, w, p + ".linear_qk").chunk(2, -1);  // one GEMM for q and k
  const at::Tensor q = split(qk[0]), k = split(qk[1]);
  const at::Tensor v = split(linear(ctx, h, w, p + ".linear_v"));
  const at::Tensor o = attend(ctx, q, k, v, c.attention, mask);
  return dropout(
      ctx, linear(ctx, o.transpose(1, 2).reshape({B, T, c.hidden_size}), w, p + ".linear_out"),
      ctx.dropout);
}

at::Tensor conv_module(const EncoderConfig& c, const Weights& w, const ForwardContext& ctx,
                       const std::string& p, const at::Tensor& h, const at::Tensor& mask) {
  at::Tensor x = layer_norm(h, w, p + ".layer_norm", kLayerEps).transpose(1, 2);
  x = at::glu(at::conv1d(x, w.at(p + ".pointwise_conv1.weight")), 1);
  x = zero_padding(x, mask, /*channels_first=*/true);  // the depthwise conv pads with zeros
  x = at::conv1d(x, w.at(p + ".depthwise_conv.weight"), {}, 1,
                 (c.conv_depthwise_kernel_size - 1) / 2, 1, c.hidden_size);
  x = at::silu(batch_norm(ctx, x, w, p + ".batch_norm"));
  return dropout(ctx, at::conv1d(x, w.at(p + ".pointwise_conv2.weight")).transpose(1, 2),
                 ctx.dropout);
}
}  // namespace

WeightSpec musicfm_weight_spec(const EncoderConfig& c) {
  WeightSpec spec;
  auto& s = spec.shapes;
  const int64_t C = c.conv_subsampling_channels, H = c.hidden_size, F = c.intermediate_size,
                K = c.conv_depthwise_kernel_size;
  const auto bn = [&](const std::string& p, int64_t n) {
    for (const char* t : {".weight", ".bias", ".running_mean", ".running_var"}) s[p + t] = {n};
    s[p + ".num_batches_tracked"] = {};
    spec.optional.insert(p + ".num_batches_tracked");
    spec.unused.insert(p + ".num_batches_tracked");
  };
  for (int b = 0; b < 2; ++b) {
    const std::string p = "conv.conv." + std::to_string(b);
    const int64_t in = b == 0 ? 1 : C;
    s[p + ".conv1.weight"] = {C, in, 3, 3};
    s[p + ".conv2.weight"] = {C, C, 3, 3};
    s[p + ".conv3.weight"] = {C, in, 3, 3};
    for (const char* conv : {".conv1", ".conv2", ".conv3"}) s[p + conv + ".bias"] = {C};
    for (const char* norm : {".bn1", ".bn2", ".bn3"}) bn(p + norm, C);
  }
  s["conv.linear.weight"] = {H, C * (c.n_mels / 4)};
  s["conv.linear.bias"] = {H};
  const auto ln = [&](const std::string& p) { s[p + ".weight"] = s[p + ".bias"] = {H}; };
  ln("conformer.layer_norm");
  for (int n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "conformer.layers." + std::to_string(n);
    for (const char* norm : {".ffn1_layer_norm", ".self_attn_layer_norm", ".conv_module.layer_norm",
                             ".ffn2_layer_norm", ".final_layer_norm"})
      ln(p + norm);
    for (const char* ffn : {".ffn1", ".ffn2"}) {
      s[p + ffn + ".intermediate_dense.weight"] = {F, H};
      s[p + ffn + ".intermediate_dense.bias"] = {F};
      s[p + ffn + ".output_dense.weight"] = {H, F};
      s[p + ffn + ".output_dense.bias"] = {H};
    }
    for (const char* proj : {".linear_q", ".linear_k", ".linear_v", ".linear_out"}) {
      s[p + ".self_attn" + proj + ".weight"] = {H, H};
      s[p + ".self_attn" + proj + ".bias"] = {H};
    }
    s[p + ".conv_module.pointwise_conv1.weight"] = {2 * H, H, 1};
    s[p + ".conv_module.depthwise_conv.weight"] = {H, 1, K};
    bn(p + ".conv_module.batch_norm", H);
    s[p + ".conv_module.pointwise_conv2.weight"] = {H, H, 1};
  }
  // Present in MusicFM checkpoints, unused by the encoder forward (checked, then dropped).
  const int64_t bins = c.mel_n_fft / 2 + 1;
  const std::map<std::string, std::vector<int64_t>> unused{
      {"preprocessor_melspec_2048.mel_stft.spectrogram.window", {c.mel_n_fft}},
      {"preprocessor_melspec_2048.mel_stft.mel_scale.fb", {bins, c.n_mels}},
      {"quantizer_melspec_2048_0.random_projection", {4 * c.n_mels, -1}},
      {"quantizer_melspec_2048_0.codebook", {-1, -1}},
      {"linear.weight", {-1, H}},
      {"linear.bias", {-1}},
      {"cls_token", {H}},
      {"conformer.pos_conv_embed.conv.bias", {H}},
      {"conformer.pos_conv_embed.conv.weight", {H, -1, -1}},
      {"conformer.pos_conv_embed.conv.weight_g", {1, 1, -1}},
      {"conformer.pos_conv_embed.conv.weight_v", {H, -1, -1}},
      {"conformer.pos_conv_embed.conv.parametrizations.weight.original0", {1, 1, -1}},
      {"conformer.pos_conv_embed.conv.parametrizations.weight.original1", {H, -1, -1}},
  };
  for (const auto& [name, shape] : unused) {
    s[name] = shape;
    spec.optional.insert(name);
    spec.unused.insert(name);
  }
  // Rotary frequencies: kept (the reference loads them from the checkpoint).
  s["conformer.embed_positions.inv_freq"] = {H / c.num_attention_heads / 2};
  spec.optional.insert("conformer.embed_positions.inv_freq");
  return spec;
}

int64_t musicfm_num_frames(const EncoderConfig& c, int64_t n) {
  int64_t t = n / c.mel_hop_length;  // centred STFT gives 1 + n / hop frames; the last is dropped
  for (int i = 0; i < 2; ++i) t = (t + 1) / 2;
  return t;
}

int64_t musicfm_min_samples(const EncoderConfig& c) {
  return std::max<int64_t>(c.mel_hop_length, c.mel_n_fft / 2 + 1);
}

at::Tensor musicfm_subsample(const EncoderConfig& c, const Weights& w, const at::Tensor& mel,
                             const ForwardContext& ctx, const std::vector<int64_t>& mel_frames) {
  MUSEFM_CHECK(mel.dim() == 3 && mel.size(1) == c.n_mels, "MusicFM: expected a mel input [B, ",
               c.n_mels, ", T], got ", mel.sizes());
  std::vector<int64_t> n =
      mel_frames.empty() ? std::vector<int64_t>(size_t(mel.size(0)), mel.size(2)) : mel_frames;
  at::Tensor x = mel.unsqueeze(1);  // [B, 1, F, T], zero beyond each item's frames
  x = res2d(ctx, w, "conv.conv.0", x, n);
  x = res2d(ctx, w, "conv.conv.1", x, halved(n));
  const int64_t B = x.size(0), C = x.size(1), F = x.size(2), T = x.size(3);
  x = x.permute({0, 3, 1, 2}).reshape({B, T, C * F});  // b c f t -> b t (c f)
  return linear(x, w, "conv.linear");
}

std::vector<at::Tensor> musicfm_conformer(const EncoderConfig& c, const Weights& w,
                                          const at::Tensor& x, const ForwardContext& ctx,
                                          const std::vector<int64_t>& frames, int num_states) {
  const size_t wanted =
      size_t(num_states > 0 ? std::min(num_states, c.num_hidden_states()) : c.num_hidden_states());
  const int64_t d = c.hidden_size / c.num_attention_heads;
  at::Tensor inv_freq;
  if (auto it = w.find("conformer.embed_positions.inv_freq"); it != w.end()) {
    inv_freq = it->second;
  } else {
    const at::Tensor exponent = at::arange(0, d, 2, at::kLong).to(at::kFloat) / double(d);
    inv_freq = at::reciprocal(at::pow(c.rotary_embedding_base, exponent));
  }
  const auto [cos, sin] = rotary_tables(inv_freq.to(x.device(), at::kFloat), x.size(1));
  const at::Tensor mask = frame_mask(frames, x.size(1), x.device());
  const double eps = kLayerEps;
  std::vector<at::Tensor> states;
  at::Tensor h = x;
  for (int n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "conformer.layers." + std::to_string(n);
    states.push_back(h);
    if (states.size() == wanted) return states;
    if (skip_layer(ctx)) continue;
    h = h + 0.5 * feed_forward(ctx, w, p + ".ffn1", layer_norm(h, w, p + ".ffn1_layer_norm", eps));
    h = h + self_attention(c, w, ctx, p + ".self_attn",
                           layer_norm(h, w, p + ".self_attn_layer_norm", eps), cos, sin, mask);
    h = h + conv_module(c, w, ctx, p + ".conv_module", h, mask);
    h = h + 0.5 * feed_forward(ctx, w, p + ".ffn2", layer_norm(h, w, p + ".ffn2_layer_norm", eps));
    h = layer_norm(h, w, p + ".final_layer_norm", eps);
  }
  states.push_back(layer_norm(h, w, "conformer.layer_norm", c.layer_norm_eps));
  return states;
}

namespace {

class MusicFmForward final : public FamilyForward {
 public:
  explicit MusicFmForward(const EncoderConfig& c) : c_(c), mel_(encoder_mel_config(c, true)) {}

  at::Tensor features(const Weights& w, const at::Tensor& x,
                      const ForwardContext& ctx) const override {
    return musicfm_subsample(c_, w, normalised_mel(x), ctx);
  }

  std::vector<at::Tensor> forward(const Weights& w, const at::Tensor& x, const ForwardContext& ctx,
                                  int num_states) const override {
    return musicfm_conformer(c_, w, features(w, x, ctx), ctx, {}, num_states);
  }

  std::vector<at::Tensor> forward_padded(const Weights& w, const std::vector<at::Tensor>& waveforms,
                                         const std::vector<int64_t>& frames,
                                         const at::Device& device, const ForwardContext& ctx,
                                         int num_states) const override {
    // The mel front-end runs per item (its centred STFT reflects at each item's own end).
    const int64_t B = int64_t(waveforms.size());
    std::vector<at::Tensor> mels;
    std::vector<int64_t> mel_frames;
    for (const auto& wav : waveforms) {
      mels.push_back(normalised_mel(wav.to(device, at::kFloat).unsqueeze(0))[0]);
      mel_frames.push_back(mels.back().size(1));
    }
    const int64_t T = *std::max_element(mel_frames.begin(), mel_frames.end());
    at::Tensor mel = at::zeros({B, c_.n_mels, T}, at::TensorOptions(device).dtype(at::kFloat));
    for (int64_t b = 0; b < B; ++b)
      mel[b].narrow(1, 0, mel_frames[size_t(b)]).copy_(mels[size_t(b)]);
    const at::Tensor sub = musicfm_subsample(c_, w, mel, ctx, mel_frames);
    return musicfm_conformer(c_, w, sub, ctx, frames, num_states);
  }

 private:
  // Normalised log-mel [B, n_mels, T] (last frame dropped, checkpoint mean / std).
  at::Tensor normalised_mel(const at::Tensor& x) const {
    at::NoGradGuard no_grad;
    const auto fp32 = PrecisionScope::float32(x.device().type());  // bf16 would round the dB
    return (mel_(x) - c_.mel_mean) / c_.mel_std;
  }

  EncoderConfig c_;
  MelSpectrogram mel_;
};

class MusicFmFamily final : public ModelFamily {
 public:
  WeightSpec weight_spec(const EncoderConfig& c) const override { return musicfm_weight_spec(c); }
  std::vector<FusedProjection> fused_projections(const EncoderConfig& c) const override {
    std::vector<FusedProjection> f;
    for (int n = 0; n < c.num_hidden_layers; ++n)
      f.push_back({"conformer.layers." + std::to_string(n) + ".self_attn.",
                   "linear_qk",
                   {"linear_q", "linear_k"}});
    return f;
  }
  int64_t num_frames(const EncoderConfig& c, int64_t n) const override {
    return musicfm_num_frames(c, n);
  }
  double frame_rate(const EncoderConfig& c) const override {
    return double(c.sample_rate) / c.mel_hop_length / 4.0;  // two stride-2 Res2d blocks
  }
  void validate(const EncoderConfig& c) const override {
    MUSEFM_CHECK(c.hybrid_features == HybridFeatures::None,
                 "EncoderConfig.hybrid_features applies to the MERT family (MusicFM is mel-based "
                 "already)");
    MUSEFM_CHECK(c.n_mels % 4 == 0,
                 "EncoderConfig.n_mels must be divisible by 4 for the two stride-2 Res2d blocks, "
                 "got ",
                 c.n_mels);
  }
  int64_t min_samples(const EncoderConfig& c) const override { return musicfm_min_samples(c); }
  int64_t feature_channels(const EncoderConfig& c) const override { return c.hidden_size; }
  std::unique_ptr<FamilyForward> forward_pass(const EncoderConfig& c) const override {
    return std::make_unique<MusicFmForward>(c);
  }
};
}  // namespace

const ModelFamily& musicfm_family() {
  static const MusicFmFamily family;
  return family;
}

}  // namespace musefm::model_detail
