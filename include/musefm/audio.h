// Audio input: decode (libsndfile), mix down, resample (libsamplerate), stream long files.
//
//   musefm::AudioLoadOptions opt;            // mono, 24 kHz, best sinc: what MERT / MusicFM want
//   musefm::Audio a = musefm::load_audio("song.ogg", opt);
//   // a.samples: interleaved float32 in [-1, 1]; a.sample_rate == 24000; a.channels == 1
//
//   musefm::AudioStream s("long.flac", opt, /*block_frames=*/48000);
//   std::vector<float> block;
//   while (s.read(block)) consume(block);    // memory independent of the file's length
//
// Formats: whatever the installed libsndfile decodes (WAV, FLAC, OGG-Vorbis, Opus, MP3 with
// libsndfile >= 1.1, AIFF, ...). Every failure throws musefm::Error naming the file and the
// reason: missing, unreadable, unsupported or corrupt format, truncated data, no samples,
// NaN/Inf samples. load_audio() and AudioStream share one code path, so a streamed file
// concatenates to exactly what load_audio() returns.
//
// Thread safety: all functions are re-entrant; an AudioStream is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <vector>
#include "musefm/enum_names.h"
#include "musefm/error.h"

namespace musefm {

/// The resampler: libsamplerate's converters (Best is its band-limited sinc with the best
/// quality), or SoxrHq, libsoxr's high-quality setting (librosa.load's default resampler,
/// 20-bit precision, about 40x faster than libsamplerate's Best).
enum class ResampleQuality { Best, Medium, Fastest, ZeroOrderHold, Linear, SoxrHq };
MUSEFM_ENUM_NAMES(ResampleQuality, {ResampleQuality::Best, "best"},
                  {ResampleQuality::Medium, "medium"}, {ResampleQuality::Fastest, "fastest"},
                  {ResampleQuality::ZeroOrderHold, "zoh"}, {ResampleQuality::Linear, "linear"},
                  {ResampleQuality::SoxrHq, "soxr-hq"});
/// Parses "best|medium|fastest|zoh|linear|soxr-hq"; throws musefm::Error otherwise.
ResampleQuality parse_resample_quality(const std::string& name);

/// What the file header says.
struct AudioInfo {
  std::string path;     ///< file name as given (or a caller-chosen name for memory input)
  std::string format;   ///< container, e.g. "WAV", "OGG", "FLAC"
  std::string subtype;  ///< encoding, e.g. "Signed 16 bit PCM", "Vorbis", "Opus"
  int sample_rate = 0;  ///< Hz
  int channels = 0;     ///< channel count
  int64_t frames = 0;   ///< samples per channel as declared by the header
  /// Duration in seconds (frames / sample_rate).
  double duration_s() const { return sample_rate > 0 ? double(frames) / sample_rate : 0.0; }
};

/// How to turn a file into model input.
struct AudioLoadOptions {
  int target_rate = 24000;  ///< output rate in Hz; 0 keeps the file's rate. Default: MERT / MusicFM
  bool mono = true;         ///< average the channels (true) or keep them interleaved (false)
  ResampleQuality quality = ResampleQuality::Best;  ///< converter when rates differ
  bool check_finite = true;  ///< reject NaN / Inf samples (float and double files)
  /// Throws musefm::Error when a field is out of range.
  void validate() const;
};

/// Decoded audio: interleaved float32 samples.
struct Audio {
  std::vector<float> samples;  ///< frames * channels values, interleaved
  int sample_rate = 0;         ///< Hz
  int channels = 0;            ///< 1 after mono mix-down
  /// Samples per channel.
  int64_t frames() const { return channels > 0 ? int64_t(samples.size()) / channels : 0; }
  /// Duration in seconds.
  double duration_s() const { return sample_rate > 0 ? double(frames()) / sample_rate : 0.0; }
};

/// Reads the header only. Throws musefm::Error when the file cannot be opened or parsed.
AudioInfo probe_audio(const std::string& path);

/// Decodes a whole file with the given options.
Audio load_audio(const std::string& path, const AudioLoadOptions& options = {});

/// Decodes an encoded file held in memory; `name` is used in error messages.
Audio decode_audio_memory(const void* data, std::size_t size, const std::string& name,
                          const AudioLoadOptions& options = {});

/// Averages interleaved channels into one.
std::vector<float> mix_to_mono(const std::vector<float>& interleaved, int channels);

/// Resamples interleaved audio from `from_rate` to `to_rate` (one-shot, whole signal).
std::vector<float> resample(const std::vector<float>& interleaved, int channels, int from_rate,
                            int to_rate, ResampleQuality quality = ResampleQuality::Best);

/// Block-streaming reader: decodes, mixes and resamples a file block by block, so memory stays
/// bounded by the block size whatever the file length.
class AudioStream {
 public:
  /// Opens `path`; throws musefm::Error if it cannot be read. `block_frames` is the number of
  /// output frames returned per read() (the last block may be shorter).
  AudioStream(const std::string& path, const AudioLoadOptions& options = {},
              int64_t block_frames = 65536);
  ~AudioStream();
  AudioStream(AudioStream&&) noexcept;
  AudioStream& operator=(AudioStream&&) noexcept;
  AudioStream(const AudioStream&) = delete;
  AudioStream& operator=(const AudioStream&) = delete;

  /// Fills `out` with the next block (interleaved if not mono). Returns false at the end.
  bool read(std::vector<float>& out);
  /// Header of the underlying file.
  const AudioInfo& info() const;
  /// Output rate in Hz.
  int sample_rate() const;
  /// Output channels.
  int channels() const;
  /// Output frames delivered so far.
  int64_t position() const;
  /// Expected total output frames (rounded like libsamplerate's output).
  int64_t expected_frames() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace musefm
