// Extraction: embeddings of whole recordings of any length from an Encoder, in bounded memory.
//
//   musefm::Extractor ex(musefm::Encoder::load("models/mert-v1-95m"), {});  // 30 s windows
//   at::Tensor emb = ex.extract(wav);          // [13, 768]: every layer, mean over time
//
//   auto stream = ex.create_stream();          // live or very long audio, block by block
//   while (read(block)) { stream.accept_waveform(block); use(stream.compute()); }
//   use(stream.flush());                       // frames [n_outputs, t, hidden] as they finalise
//
// Windows. An input longer than `window_s` is encoded in windows of window_s seconds whose
// starts are `hop_s` apart (rounded down to whole frames, so every window shares the global
// frame grid). Each output frame comes from exactly one window: where two windows overlap, the
// frames before the middle of the overlap come from the earlier window and the rest from the
// later one, so every frame has at least half the overlap as context on each side. The last
// window ends at the end of the input and may be up to an eighth of a window longer, so a short
// tail does not cost a whole extra pass. The stitched sequence has exactly as many frames as a
// single pass over the whole input (Encoder::num_frames), and each window's frames are exactly
// those of a separate pass over that window's audio.
//
// Stitched vs one pass. Only a model whose frames depend on no more than the window gives the
// one-pass result (tested with such a model: MERT's conv stack with per-frame LayerNorm; MusicFM's
// conv front-end). MERT-v1's first conv layer normalises over the whole window (GroupNorm) and
// the transformer layers attend over it, so windowed frames differ from a full pass; measured
// on random full-size weights (benchmarks/RESULTS.md) the median per-frame difference is 3-5 %
// and overlap mainly removes the larger errors near the seams. Use --window 0 (one pass) where
// memory allows and exactness matters.
//
// Batching. `batch` windows (of one input or of several) run in one forward pass; items are
// padded and masked so the result equals one-by-one processing (Encoder::forward_batch).
//
// Thread safety: an Extractor is immutable and may be shared by threads; each thread uses its
// own ExtractStream.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "musefm/audio.h"  // ResampleQuality
#include "musefm/encoder.h"
#include "musefm/enum_names.h"

namespace musefm {

/// How frames become an output: averaged over time; the mean followed by the (population)
/// standard deviation over time, 2 x hidden values per output (how the MFCC / chroma
/// baselines summarise a clip; it keeps how frames change, e.g. a note's attack and decay);
/// or every frame kept.
enum class Pool { Mean, MeanStd, None };
MUSEFM_ENUM_NAMES(Pool, {Pool::Mean, "mean"}, {Pool::MeanStd, "mean+std"}, {Pool::None, "none"});

/// `frames` [outputs, T, H] pooled over time as `pool` says: [outputs, H], [outputs, 2H]
/// (mean+std) or the frames themselves (none).
at::Tensor pool_frames(const at::Tensor& frames, Pool pool);

struct ExtractConfig {
  /// "all" (every hidden state), indices such as "0,6,-1" (negative = from the end), or
  /// "weighted": one output, the weighted sum of every hidden state (layer_weights).
  std::string layers = "all";
  /// With "weighted": one weight per hidden state (normalised to sum 1); empty = uniform.
  std::vector<double> layer_weights;
  Pool pool = Pool::Mean;  ///< mean, mean+std (over time) or none (every frame)
  double window_s = 30.0;  ///< seconds per forward pass; 0 = the whole input at once
  double hop_s = 0.0;      ///< seconds between window starts; 0 = window_s (minimal overlap)
  int batch = 1;           ///< windows per forward pass
  /// fp32, bf16 (CPU and CUDA) or fp16 (CUDA): the encoder's arithmetic (musefm/encoder.h).
  Precision precision = Precision::Fp32;
  /// Resampler of files not at the model's rate (EmbeddingFileWriter): libsoxr HQ by default,
  /// as librosa.load; libsamplerate's "best" is about 40x slower for the same use.
  ResampleQuality resample = ResampleQuality::SoxrHq;

  void validate() const;
  std::string to_json() const;
  static ExtractConfig from_json(const std::string& json);
};

class ExtractStream;

class Extractor {
 public:
  Extractor(Encoder encoder, ExtractConfig config);

  const Encoder& encoder() const { return encoder_; }
  const ExtractConfig& config() const { return config_; }
  /// Hidden-state indices read ("weighted": all of them).
  const std::vector<int64_t>& layers() const { return layers_; }
  /// Rows of every result: layers().size(), or 1 for "weighted".
  int64_t num_outputs() const;
  /// Window length and hop in samples at the model rate (window 0 = unbounded).
  int64_t window_samples() const { return window_; }
  int64_t hop_samples() const { return hop_; }
  /// Hidden states the encoder must compute: up to the highest chosen layer.
  int states_needed() const;
  /// Samples per output frame (MERT-v1 320, MusicFM 960).
  int64_t frame_hop() const { return frame_hop_; }

  /// One input [L] at the model's sample rate: [num_outputs, T, hidden] (pool "none"),
  /// [num_outputs, hidden] (pool "mean") or [num_outputs, 2 x hidden] (pool "mean+std").
  /// T = encoder().num_frames(L).
  at::Tensor extract(const at::Tensor& waveform) const;
  /// Several inputs; their windows run `batch` at a time. Same results as one by one.
  std::vector<at::Tensor> extract(const std::vector<at::Tensor>& waveforms) const;
  /// Incremental extraction of one input (frames, never pooled).
  ExtractStream create_stream() const;

  /// Internal: frames [num_outputs, T, H] selected/weighted from one window's hidden states.
  at::Tensor select(const std::vector<at::Tensor>& states) const;

 private:
  Encoder encoder_;
  ExtractConfig config_;
  std::vector<int64_t> layers_;
  at::Tensor weights_;  // "weighted": [n_states] summing to 1
  int64_t window_ = 0, hop_ = 0, frame_hop_ = 1;
};

/// Frames of one input as it arrives. Not thread-safe; one per input.
class ExtractStream {
 public:
  /// Appends samples (1-D float, model rate). Blocks may have any size.
  void accept_waveform(const at::Tensor& samples);
  void accept_waveform(const float* samples, size_t n);
  /// Encodes every window that is complete and returns the frames that will not change:
  /// [num_outputs, t, hidden] with t >= 0.
  at::Tensor compute();
  /// Marks the end of the input, encodes what is left and returns the remaining frames.
  /// Throws if the whole input was shorter than one frame. No input is accepted afterwards.
  at::Tensor flush();
  /// Frames returned so far; total samples accepted.
  int64_t frames_emitted() const;
  int64_t samples_accepted() const;
  /// Samples held for windows still to come: at most about two windows plus the last block.
  int64_t samples_buffered() const;

  ExtractStream(ExtractStream&&) noexcept;
  ExtractStream& operator=(ExtractStream&&) noexcept;
  ~ExtractStream();

 private:
  friend class Extractor;
  struct State;
  explicit ExtractStream(const Extractor& extractor);
  std::unique_ptr<State> state_;
};

}  // namespace musefm
