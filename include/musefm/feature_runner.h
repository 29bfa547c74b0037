// musefm/feature_runner.h — front-end features of audio files, as `musefm features` writes
// them: a transform built from (kind, config JSON, key=value overrides), run on a file and
// written as a frame-major .npy with a JSON sidecar (kind, resolved config, frame rate, shape,
// the audio's header).
//
//   musefm::FeatureRunner r(musefm::FeatureKind::Mfcc, "", {"num_ceps=13"}, "cpu",
//                           musefm::ResampleQuality::Best);
//   r.run("song.flac", "out/song.npy");        // + out/song.json
//   int64_t frames = 0, dims = 0;  musefm::AudioInfo info;
//   std::vector<float> x = r.compute("song.flac", frames, dims, info);  // no files
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "musefm/audio.h"
#include "musefm/features.h"
#include "musefm/file_batch.h"  // sidecar_path

namespace musefm {

class FeatureRunner {
 public:
  /// `config_json` may be empty (the kind's defaults); `overrides` are "key=value" strings whose
  /// value is parsed as JSON when it can be (numbers, booleans, null) and as a string otherwise.
  FeatureRunner(FeatureKind kind, const std::string& config_json,
                const std::vector<std::string>& overrides, const std::string& device,
                ResampleQuality quality);
  ~FeatureRunner();

  /// The transform on a float waveform [L] or [B, L] at sample_rate(): frame-major features
  /// [frames, dims] or [B, frames, dims] (the layout run() writes), float32, on the input's
  /// device. Throws musefm::Error for another dtype, rank or an input too short for one frame.
  at::Tensor transform(const at::Tensor& waveform) const;
  /// Decodes `audio_path` at the transform's rate (mono) and computes [frames, dims] features.
  std::vector<float> compute(const std::string& audio_path, int64_t& frames, int64_t& dims,
                             AudioInfo& info) const;
  /// compute() + write `out_npy` and `out_npy` with ".json" for ".npy" (the sidecar); returns
  /// the features ([frames, dims] in `frames`, `dims`).
  std::vector<float> run(const std::string& audio_path, const std::string& out_npy,
                         int64_t* frames = nullptr, int64_t* dims = nullptr) const;

  /// One line on what dominates features [frames, dims] of this runner: the strongest CQT bin
  /// and its frequency, or the dominant pitch class of a chromagram; "" for the other kinds.
  std::string describe(const std::vector<float>& features, int64_t frames, int64_t dims) const;

  FeatureKind kind() const { return kind_; }
  int sample_rate() const { return sample_rate_; }
  double frame_rate() const { return frame_rate_; }
  const std::string& config_json() const { return config_json_; }

 private:
  struct Impl;
  FeatureKind kind_;
  int sample_rate_ = 0;
  double frame_rate_ = 0;
  std::string config_json_, device_;
  ResampleQuality quality_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace musefm
