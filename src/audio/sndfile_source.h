// Internal: an open libsndfile handle over a path or a memory buffer, with checked reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "musefm/audio.h"

namespace musefm::audio_detail {

class SndSource {
 public:
  /// Read position over an in-memory file (libsndfile virtual I/O).
  struct Memory {
    const unsigned char* data = nullptr;
    int64_t size = 0;
    int64_t pos = 0;
  };
  /// Opens a file; throws musefm::Error naming `path` and the reason.
  static std::unique_ptr<SndSource> open_file(const std::string& path);
  /// Opens an encoded buffer (not copied: must outlive the source).
  static std::unique_ptr<SndSource> open_memory(const void* data, std::size_t size,
                                                const std::string& name);
  ~SndSource();

  const AudioInfo& info() const { return info_; }
  /// Reads up to `frames` interleaved frames into `out` (resized); returns frames read.
  /// Throws on a decoder error. At the end of data, checks the header's frame count.
  int64_t read(int64_t frames, std::vector<float>& out);
  /// Frames decoded so far.
  int64_t decoded() const { return decoded_; }

 private:
  SndSource() = default;
  void init_info(const std::string& name);
  void check_complete() const;

  void* handle_ = nullptr;  // SNDFILE*
  Memory memory_;
  bool exact_length_ = true;
  AudioInfo info_;
  int64_t decoded_ = 0;
};

/// Streaming libsamplerate converter over interleaved float frames.
class StreamResampler {
 public:
  StreamResampler(int channels, int from_rate, int to_rate, ResampleQuality quality);
  ~StreamResampler();
  StreamResampler(const StreamResampler&) = delete;
  StreamResampler& operator=(const StreamResampler&) = delete;
  /// Converts `in` and appends the produced frames to `out`. `last` flushes the converter and
  /// trims / zero-pads the total output to ceil(total_in * to / from) frames.
  void process(const float* in, int64_t in_frames, bool last, std::vector<float>& out);

 private:
  void process_soxr(const float* in, int64_t in_frames, bool last, std::vector<float>& out);
  void* state_ = nullptr;  // SRC_STATE*
  void* soxr_ = nullptr;   // soxr_t (quality SoxrHq)
  int channels_;
  int from_rate_, to_rate_;
  int64_t total_in_ = 0, total_out_ = 0;
};

/// Output frames the resampler produces for `in_frames` input frames.
int64_t resampled_length(int64_t in_frames, int from_rate, int to_rate);

}  // namespace musefm::audio_detail
