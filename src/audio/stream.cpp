// AudioStream (block reader) and load_audio / decode_audio_memory built on it.
#include <cmath>
#include <deque>

#include "audio/sndfile_source.h"
#include "musefm/error.h"

namespace musefm {

/// Input frames decoded per step. Fixed, so the resampler always sees the same chunking and a
/// streamed file is bit-identical to load_audio() whatever block size the caller asks for.
constexpr int64_t kDecodeFrames = 16384;

struct AudioStream::Impl {
  std::unique_ptr<audio_detail::SndSource> source;
  std::unique_ptr<audio_detail::StreamResampler> resampler;
  AudioLoadOptions options;
  int64_t block_frames = 0;
  int out_channels = 1;
  int out_rate = 0;
  int64_t position = 0;
  bool input_done = false;
  std::vector<float> pending;  // decoded + converted, not yet returned
  size_t pending_offset = 0;
  std::vector<float> raw;

  void setup(const AudioLoadOptions& opt, int64_t block) {
    opt.validate();
    MUSEFM_CHECK(block > 0, "AudioStream: block_frames must be positive, got ", block);
    options = opt;
    block_frames = block;
    const AudioInfo& in = source->info();
    out_channels = opt.mono ? 1 : in.channels;
    out_rate = opt.target_rate > 0 ? opt.target_rate : in.sample_rate;
    if (out_rate != in.sample_rate)
      resampler = std::make_unique<audio_detail::StreamResampler>(out_channels, in.sample_rate,
                                                                  out_rate, opt.quality);
  }

  void check_finite(const std::vector<float>& x, int channels) const {
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i])) {
        MUSEFM_FAIL("cannot use '", source->info().path, "': non-finite sample (",
                    std::isnan(x[i]) ? "NaN" : "Inf", ") at frame ",
                    source->decoded() - int64_t(x.size() / size_t(channels)) +
                        int64_t(i / size_t(channels)));
      }
    }
  }

  // Decodes one step of input and appends converted frames to `pending`.
  void decode_step() {
    const int in_ch = source->info().channels;
    const int64_t got = source->read(kDecodeFrames, raw);
    if (options.check_finite) check_finite(raw, in_ch);
    const bool last = got == 0;
    if (last) input_done = true;
    std::vector<float> frames = options.mono ? mix_to_mono(raw, in_ch) : raw;
    if (pending_offset > 0) {
      pending.erase(pending.begin(), pending.begin() + long(pending_offset));
      pending_offset = 0;
    }
    if (resampler) {
      resampler->process(frames.data(), int64_t(frames.size()) / out_channels, last, pending);
    } else {
      pending.insert(pending.end(), frames.begin(), frames.end());
    }
  }

  bool read(std::vector<float>& out) {
    const size_t want = size_t(block_frames) * size_t(out_channels);
    while (!input_done && pending.size() - pending_offset < want) decode_step();
    const size_t avail = pending.size() - pending_offset;
    const size_t n = std::min(want, avail);
    out.assign(pending.begin() + long(pending_offset), pending.begin() + long(pending_offset + n));
    pending_offset += n;
    position += int64_t(n / size_t(out_channels));
    return n > 0;
  }
};

AudioStream::AudioStream(const std::string& path, const AudioLoadOptions& options,
                         int64_t block_frames)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = audio_detail::SndSource::open_file(path);
  impl_->setup(options, block_frames);
}
AudioStream::~AudioStream() = default;
AudioStream::AudioStream(AudioStream&&) noexcept = default;
AudioStream& AudioStream::operator=(AudioStream&&) noexcept = default;

bool AudioStream::read(std::vector<float>& out) { return impl_->read(out); }
const AudioInfo& AudioStream::info() const { return impl_->source->info(); }
int AudioStream::sample_rate() const { return impl_->out_rate; }
int AudioStream::channels() const { return impl_->out_channels; }
int64_t AudioStream::position() const { return impl_->position; }
int64_t AudioStream::expected_frames() const {
  return audio_detail::resampled_length(info().frames, info().sample_rate, impl_->out_rate);
}

namespace {
Audio drain(AudioStream::Impl& impl) {
  Audio audio;
  audio.sample_rate = impl.out_rate;
  audio.channels = impl.out_channels;
  // The header's frame count is untrusted: reserve at most 2^24 frames up front.
  const int64_t declared = std::min<int64_t>(impl.source->info().frames, int64_t(1) << 24);
  const int64_t expected =
      audio_detail::resampled_length(declared, impl.source->info().sample_rate, impl.out_rate);
  audio.samples.reserve(size_t(std::min<int64_t>(expected, int64_t(1) << 24)) *
                        size_t(impl.out_channels));
  std::vector<float> block;
  while (impl.read(block)) audio.samples.insert(audio.samples.end(), block.begin(), block.end());
  return audio;
}
}  // namespace

Audio load_audio(const std::string& path, const AudioLoadOptions& options) {
  AudioStream::Impl impl;
  impl.source = audio_detail::SndSource::open_file(path);
  impl.setup(options, 1 << 20);
  return drain(impl);
}

Audio decode_audio_memory(const void* data, std::size_t size, const std::string& name,
                          const AudioLoadOptions& options) {
  AudioStream::Impl impl;
  impl.source = audio_detail::SndSource::open_memory(data, size, name);
  impl.setup(options, 1 << 20);
  return drain(impl);
}

}  // namespace musefm
