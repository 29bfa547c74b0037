#include "musefm/feature_runner.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "musefm/npy.h"
#include "musefm/overrides.h"

namespace musefm {
namespace {
using nlohmann::json;

template <typename Config>
std::string resolved(const std::string& given, const std::vector<std::string>& overrides,
                     const Config& defaults) {
  const std::string base = given.empty() ? defaults.to_json() : given;
  return Config::from_json(apply_overrides(base, overrides)).to_json();  // validates
}
}  // namespace

struct FeatureRunner::Impl {
  std::function<at::Tensor(const at::Tensor&)> transform;
  bool frame_major = false;  // MFCC returns [T, D]; the others [D, T]
};

FeatureRunner::FeatureRunner(FeatureKind kind, const std::string& config_json,
                             const std::vector<std::string>& overrides, const std::string& device,
                             ResampleQuality quality)
    : kind_(kind), device_(device), quality_(quality), impl_(std::make_unique<Impl>()) {
  switch (kind) {
    case FeatureKind::Mel: {
      config_json_ = resolved(config_json, overrides, MelConfig::musicfm());
      auto t = std::make_shared<MelSpectrogram>(MelConfig::from_json(config_json_));
      sample_rate_ = t->config().sample_rate;
      frame_rate_ = musefm::frame_rate(t->config());
      impl_->transform = [t](const at::Tensor& x) { return (*t)(x); };
      break;
    }
    case FeatureKind::Mfcc: {
      config_json_ = resolved(config_json, overrides, KaldiMfccConfig::hubert());
      auto t = std::make_shared<KaldiMfcc>(KaldiMfccConfig::from_json(config_json_));
      sample_rate_ = t->config().sample_rate;
      frame_rate_ = musefm::frame_rate(t->config());
      impl_->transform = [t](const at::Tensor& x) { return (*t)(x); };
      impl_->frame_major = true;
      break;
    }
    case FeatureKind::Cqt: {
      config_json_ = resolved(config_json, overrides, NnAudioCqtConfig::mert());
      auto t = std::make_shared<NnAudioCqt>(NnAudioCqtConfig::from_json(config_json_));
      sample_rate_ = t->config().sample_rate;
      frame_rate_ = musefm::frame_rate(t->config());
      impl_->transform = [t](const at::Tensor& x) { return (*t)(x); };
      break;
    }
    case FeatureKind::Chroma: {
      config_json_ = resolved(config_json, overrides, ChromaConfig{});
      auto t = std::make_shared<Chroma>(ChromaConfig::from_json(config_json_));
      sample_rate_ = t->config().sample_rate;
      frame_rate_ = double(t->config().sample_rate) / t->config().hop_length;
      impl_->transform = [t](const at::Tensor& x) { return (*t)(x); };
      break;
    }
  }
  const at::Device dev(device_);  // throws c10::Error on a malformed name
  MUSEFM_CHECK(dev.is_cpu() || (dev.is_cuda() && at::hasCUDA()), "--device '", device_,
               "': ", dev.is_cuda() ? "no CUDA device is available" : "unsupported device type");
}

FeatureRunner::~FeatureRunner() = default;

at::Tensor FeatureRunner::transform(const at::Tensor& waveform) const {
  MUSEFM_CHECK(waveform.dim() == 1 || waveform.dim() == 2,
               "features: waveform must be [L] or [B, L], got ", waveform.dim(), " dimensions");
  MUSEFM_CHECK(at::isFloatingType(waveform.scalar_type()),
               "features: waveform must be floating-point samples in [-1, 1], got ",
               c10::toString(waveform.scalar_type()));
  at::Tensor y = impl_->transform(waveform.to(at::kFloat));
  return impl_->frame_major ? y : y.transpose(-1, -2).contiguous();
}

std::vector<float> FeatureRunner::compute(const std::string& audio_path, int64_t& frames,
                                          int64_t& dims, AudioInfo& info) const {
  info = probe_audio(audio_path);
  AudioLoadOptions opt;
  opt.target_rate = sample_rate_;
  opt.quality = quality_;
  Audio audio = load_audio(audio_path, opt);
  at::Tensor x = waveform_tensor(audio).to(at::Device(device_));
  at::Tensor y;
  try {
    y = transform(x);
  } catch (const Error& e) {
    MUSEFM_FAIL("'", audio_path, "': ", e.what());
  }
  y = y.contiguous().to(at::kCPU);
  frames = y.size(0);
  dims = y.size(1);
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

std::vector<float> FeatureRunner::run(const std::string& audio_path, const std::string& out_npy,
                                      int64_t* frames_out, int64_t* dims_out) const {
  int64_t frames = 0, dims = 0;
  AudioInfo info;
  const std::vector<float> data = compute(audio_path, frames, dims, info);
  json side{{"kind", to_string(kind_)},
            {"config", json::parse(config_json_)},
            {"frame_rate", frame_rate_},
            {"shape", {frames, dims}},
            {"layout", "frames x dims, float32, C order"},
            {"audio",
             {{"path", audio_path},
              {"duration_s", info.duration_s()},
              {"sample_rate", info.sample_rate},
              {"channels", info.channels}}},
            {"resample_quality", to_string(quality_)},
            {"musefm_version", MUSEFM_VERSION}};
  const std::string side_text = side.dump(2) + "\n";
  io_detail::AtomicFile sidecar(sidecar_path(out_npy));
  sidecar.write(side_text.data(), side_text.size());
  write_npy(out_npy, data.data(), {frames, dims});
  sidecar.commit();  // after the array: a sidecar never describes a missing file
  if (frames_out) *frames_out = frames;
  if (dims_out) *dims_out = dims;
  return data;
}

}  // namespace musefm
