#include "model/hybrid.h"

#include <cmath>

#include "model/ops.h"
#include "model/precision.h"

namespace musefm::model_detail {
namespace {

bool wants(const EncoderConfig& c, HybridFeatures kind) {
  return c.hybrid_features == kind || c.hybrid_features == HybridFeatures::CqtMel;
}

NnAudioCqtConfig cqt_config(const EncoderConfig& c) {
  NnAudioCqtConfig q = NnAudioCqtConfig::mert();
  q.sample_rate = c.sample_rate;
  q.validate();
  return q;
}

// Conv frame t covers samples [t * hop, t * hop + field): its centre in units of a centred
// feature frame grid of `feature_hop` samples, linearly interpolated. f [B, D, F] -> [B, T, D].
at::Tensor at_conv_frames(const EncoderConfig& c, const at::Tensor& f, int64_t frames,
                          double feature_hop) {
  int64_t hop = 1, field = 1;
  for (size_t i = c.conv_kernel.size(); i-- > 0;)
    field = (field - 1) * c.conv_stride[i] + c.conv_kernel[i];
  for (int s : c.conv_stride) hop *= s;
  const int64_t F = f.size(2);
  const at::Tensor pos =
      ((at::arange(frames, at::kDouble) * double(hop) + (field - 1) / 2.0) / feature_hop)
          .clamp(0, double(F - 1));
  const at::Tensor i0 = pos.floor().to(at::kLong).clamp(0, F - 1);
  const at::Tensor i1 = (i0 + 1).clamp(0, F - 1);
  const at::Tensor w = (pos - i0.to(at::kDouble)).to(f.scalar_type()).to(f.device());
  const at::Tensor a = f.index_select(2, i0.to(f.device())),
                   b = f.index_select(2, i1.to(f.device()));
  return (a * (1 - w) + b * w).transpose(1, 2);
}
}  // namespace

HybridFrontEnd::HybridFrontEnd(const EncoderConfig& c) : config_(c) {
  if (wants(c, HybridFeatures::Cqt)) cqt_ = std::make_shared<NnAudioCqt>(cqt_config(c));
  if (wants(c, HybridFeatures::Mel))
    mel_ = std::make_shared<MelSpectrogram>(encoder_mel_config(c, false));
}

HybridInputs HybridFrontEnd::operator()(const at::Tensor& x, int64_t frames) const {
  HybridInputs out;
  const auto fp32 = PrecisionScope::float32(x.device().type());  // spectra and logs in float32
  if (cqt_)  // log magnitude; the LayerNorm that follows takes care of the scale
    out.cqt =
        at_conv_frames(config_, at::log((*cqt_)(x) + 1e-6), frames, cqt_->config().hop_length);
  if (mel_)  // already in dB
    out.mel = at_conv_frames(config_, (*mel_)(x), frames, mel_->config().hop_length);
  return out;
}

MelConfig encoder_mel_config(const EncoderConfig& c, bool drop_last_frame) {
  MelConfig m = MelConfig::musicfm();
  m.sample_rate = c.sample_rate;
  m.n_fft = c.mel_n_fft;
  m.hop_length = c.mel_hop_length;
  m.n_mels = c.n_mels;
  m.drop_last_frame = drop_last_frame;
  m.validate();
  return m;
}

int64_t hybrid_concat_width(const EncoderConfig& c) {
  if (c.hybrid_fusion != HybridFusion::Concat) return 0;
  return (wants(c, HybridFeatures::Cqt) ? cqt_config(c).n_bins : 0) +
         (wants(c, HybridFeatures::Mel) ? c.n_mels : 0);
}

void add_hybrid_weights(const EncoderConfig& c, WeightSpec& spec) {
  const int64_t C = c.conv_dim.back();
  const auto add = [&](const std::string& kind, int64_t dims) {
    spec.shapes["hybrid." + kind + ".layer_norm.weight"] = {dims};
    spec.shapes["hybrid." + kind + ".layer_norm.bias"] = {dims};
    if (c.hybrid_fusion == HybridFusion::Add) {
      spec.shapes["hybrid." + kind + ".projection.weight"] = {C, dims};
      spec.shapes["hybrid." + kind + ".projection.bias"] = {C};
    }
  };
  if (wants(c, HybridFeatures::Cqt)) add("cqt", cqt_config(c).n_bins);
  if (wants(c, HybridFeatures::Mel)) add("mel", c.n_mels);
}

at::Tensor fuse_hybrid(const EncoderConfig& c, const Weights& w, const at::Tensor& cnn,
                       const HybridInputs& in) {
  std::vector<at::Tensor> parts{cnn};
  at::Tensor sum = cnn;
  for (const auto& [kind, t] :
       {std::pair<std::string, at::Tensor>{"cqt", in.cqt}, {"mel", in.mel}}) {
    if (!t.defined()) continue;
    const at::Tensor normed = layer_norm(t, w, "hybrid." + kind + ".layer_norm", 1e-5);
    if (c.hybrid_fusion == HybridFusion::Add) {
      sum = sum + linear(normed, w, "hybrid." + kind + ".projection");
    } else {
      parts.push_back(normed);
    }
  }
  return c.hybrid_fusion == HybridFusion::Add ? sum : at::cat(parts, -1);
}

}  // namespace musefm::model_detail
