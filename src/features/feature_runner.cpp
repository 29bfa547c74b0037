#include "musefm/feature_runner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "audio/audio_json.h"
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

// Index of the largest time-averaged value of a [frames, dims] array.
int64_t strongest_dim(const std::vector<float>& x, int64_t frames, int64_t dims) {
  std::vector<double> mean(size_t(dims), 0.0);
  for (int64_t t = 0; t < frames; ++t)
    for (int64_t d = 0; d < dims; ++d) mean[size_t(d)] += x[size_t(t * dims + d)];
  return int64_t(std::max_element(mean.begin(), mean.end()) - mean.begin());
}
}  // namespace

struct FeatureRunner::Impl {
  std::function<at::Tensor(const at::Tensor&)> transform;
  std::function<std::string(int64_t strongest)> describe;  // of the strongest dimension
  bool frame_major = false;                                // MFCC returns [T, D]; the others [D, T]
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
      impl_->describe = [t](int64_t bin) {
        char hz[64];
        std::snprintf(hz, sizeof hz, " = %.1f Hz",
                      t->config().fmin * std::pow(2.0, double(bin) / t->config().bins_per_octave));
        return "strongest CQT bin: " + std::to_string(bin) + hz;
      };
      break;
    }
    case FeatureKind::Chroma: {
      config_json_ = resolved(config_json, overrides, ChromaConfig{});
      auto t = std::make_shared<Chroma>(ChromaConfig::from_json(config_json_));
      sample_rate_ = t->config().sample_rate;
      frame_rate_ = double(t->config().sample_rate) / t->config().hop_length;
      impl_->transform = [t](const at::Tensor& x) { return (*t)(x); };
      if (t->config().n_chroma == 12)  // librosa's chroma starts at C
        impl_->describe = [](int64_t pc) {
          static const char* names[] = {"C",  "C#", "D",  "D#", "E",  "F",
                                        "F#", "G",  "G#", "A",  "A#", "B"};
          return std::string("dominant pitch class: ") + names[pc % 12];
        };
      break;
    }
  }
  const at::Device dev(device_);  // throws c10::Error on a malformed name
  MUSEFM_CHECK(dev.is_cpu() || (dev.is_cuda() && at::hasCUDA()), "--device '", device_,
               "': ", dev.is_cuda() ? "no CUDA device is available" : "unsupported device type");
}

std::string FeatureRunner::describe(const std::vector<float>& x, int64_t frames,
                                    int64_t dims) const {
  if (!impl_->describe || frames <= 0 || dims <= 0) return "";
  MUSEFM_CHECK(int64_t(x.size()) == frames * dims, "describe: ", x.size(), " values for ", frames,
               " x ", dims, " features");
  return impl_->describe(strongest_dim(x, frames, dims));
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
            {"audio", audio_detail::audio_json(audio_path, info)},
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
