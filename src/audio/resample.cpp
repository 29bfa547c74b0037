// Sample-rate conversion with libsamplerate or libsoxr (streaming state, exact output length).
#include <samplerate.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>

#include "audio/sndfile_source.h"
#include "musefm/error.h"

namespace musefm {

ResampleQuality parse_resample_quality(const std::string& name) {
  return parse_enum<ResampleQuality>(name, "resample quality");
}

void AudioLoadOptions::validate() const {
  MUSEFM_CHECK(target_rate >= 0 && target_rate <= 1536000,
               "AudioLoadOptions.target_rate must be 0 (keep) or in (0, 1536000] Hz, got ",
               target_rate);
}

namespace audio_detail {
namespace {
int converter_type(ResampleQuality q) {
  switch (q) {
    case ResampleQuality::Best:
      return SRC_SINC_BEST_QUALITY;
    case ResampleQuality::Medium:
      return SRC_SINC_MEDIUM_QUALITY;
    case ResampleQuality::Fastest:
      return SRC_SINC_FASTEST;
    case ResampleQuality::ZeroOrderHold:
      return SRC_ZERO_ORDER_HOLD;
    case ResampleQuality::Linear:
      return SRC_LINEAR;
    case ResampleQuality::SoxrHq:
      break;
  }
  return SRC_SINC_BEST_QUALITY;
}
}  // namespace

int64_t resampled_length(int64_t in_frames, int from_rate, int to_rate) {
  if (from_rate == to_rate) return in_frames;
  return (in_frames * to_rate + from_rate - 1) / from_rate;
}

StreamResampler::StreamResampler(int channels, int from_rate, int to_rate, ResampleQuality quality)
    : channels_(channels), from_rate_(from_rate), to_rate_(to_rate) {
  MUSEFM_CHECK(from_rate > 0 && to_rate > 0, "resample: rates must be positive, got ", from_rate,
               " -> ", to_rate);
  const double ratio = double(to_rate) / double(from_rate);
  MUSEFM_CHECK(src_is_valid_ratio(ratio), "resample: ratio ", to_rate, "/", from_rate,
               " is outside the supported range (1/256 .. 256)");
  if (quality == ResampleQuality::SoxrHq) {
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_error_t err = nullptr;
    soxr_ = soxr_create(from_rate, to_rate, unsigned(channels), &err, &io, &q, nullptr);
    MUSEFM_CHECK(soxr_ != nullptr && !err, "resample: libsoxr failed: ", err ? err : "no state");
    return;
  }
  int err = 0;
  state_ = src_new(converter_type(quality), channels, &err);
  MUSEFM_CHECK(state_ != nullptr, "resample: libsamplerate failed: ", src_strerror(err));
}

StreamResampler::~StreamResampler() {
  if (state_) src_delete(static_cast<SRC_STATE*>(state_));
  if (soxr_) soxr_delete(static_cast<soxr_t>(soxr_));
}

void StreamResampler::process_soxr(const float* in, int64_t in_frames, bool last,
                                   std::vector<float>& out) {
  auto* st = static_cast<soxr_t>(soxr_);
  total_in_ += in_frames;
  const int64_t target_total = resampled_length(total_in_, from_rate_, to_rate_);
  const size_t room = size_t(std::max<int64_t>(1024, in_frames * to_rate_ / from_rate_ + 256));
  std::vector<float> buf(room * size_t(channels_));
  static const float kNoInput[1] = {0.0f};  // ilen 0 without ending the input
  int64_t consumed = 0;
  while (true) {
    const bool flush = last && consumed >= in_frames;  // a null input ends it: drain the filter
    size_t idone = 0, odone = 0;
    const soxr_error_t err =
        soxr_process(st, flush ? nullptr : (in ? in + consumed * channels_ : kNoInput),
                     flush ? 0 : size_t(in_frames - consumed), &idone, buf.data(), room, &odone);
    MUSEFM_CHECK(!err, "resample: libsoxr failed: ", err);
    consumed += int64_t(idone);
    int64_t produced = int64_t(odone);
    if (last) produced = std::min(produced, std::max<int64_t>(0, target_total - total_out_));
    out.insert(out.end(), buf.begin(), buf.begin() + produced * channels_);
    total_out_ += produced;
    if (odone < room && consumed >= in_frames && (!last || flush)) break;
  }
  if (last && total_out_ < target_total) {  // pad a short tail with zeros
    out.insert(out.end(), size_t(target_total - total_out_) * size_t(channels_), 0.0f);
    total_out_ = target_total;
  }
}

void StreamResampler::process(const float* in, int64_t in_frames, bool last,
                              std::vector<float>& out) {
  if (soxr_) return process_soxr(in, in_frames, last, out);
  auto* st = static_cast<SRC_STATE*>(state_);
  const double ratio = double(to_rate_) / double(from_rate_);
  total_in_ += in_frames;
  const int64_t target_total = resampled_length(total_in_, from_rate_, to_rate_);
  SRC_DATA d{};
  d.src_ratio = ratio;
  d.end_of_input = last ? 1 : 0;
  int64_t consumed = 0;
  std::vector<float> buf(size_t(std::max<int64_t>(1024, int64_t(in_frames * ratio) + 256)) *
                         size_t(channels_));
  // libsamplerate flushes nothing for a null data_in, even with end_of_input set (it returns no
  // error and no frames): the end-of-input call with an empty block points at a dummy sample.
  static const float kNoInput[1] = {0.0f};
  if (in == nullptr) in = kNoInput;
  while (true) {
    d.data_in = in + consumed * channels_;
    d.input_frames = long(in_frames - consumed);
    d.data_out = buf.data();
    d.output_frames = long(buf.size() / size_t(channels_));
    const int err = src_process(st, &d);
    MUSEFM_CHECK(err == 0, "resample: libsamplerate failed: ", src_strerror(err));
    consumed += d.input_frames_used;
    int64_t produced = d.output_frames_gen;
    if (last) produced = std::min(produced, std::max<int64_t>(0, target_total - total_out_));
    out.insert(out.end(), buf.begin(), buf.begin() + produced * channels_);
    total_out_ += produced;
    const bool input_done = consumed >= in_frames;
    if (input_done && (!last || d.output_frames_gen == 0)) break;
    if (last && total_out_ >= target_total && input_done) break;
  }
  if (last && total_out_ < target_total) {  // pad the converter's short tail with zeros
    out.insert(out.end(), size_t(target_total - total_out_) * size_t(channels_), 0.0f);
    total_out_ = target_total;
  }
}

}  // namespace audio_detail

std::vector<float> resample(const std::vector<float>& interleaved, int channels, int from_rate,
                            int to_rate, ResampleQuality quality) {
  MUSEFM_CHECK(channels > 0, "resample: channel count must be positive, got ", channels);
  if (from_rate == to_rate) return interleaved;
  audio_detail::StreamResampler r(channels, from_rate, to_rate, quality);
  std::vector<float> out;
  out.reserve(size_t(audio_detail::resampled_length(int64_t(interleaved.size()) / channels,
                                                    from_rate, to_rate)) *
              size_t(channels));
  r.process(interleaved.data(), int64_t(interleaved.size()) / channels, true, out);
  return out;
}

}  // namespace musefm
