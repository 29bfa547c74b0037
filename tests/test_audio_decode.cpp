// Decoding real recordings and synthetic files; mix-down and resampling.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>

#include "audio/soxr_resample.h"
#include "musefm/audio.h"
#include "support/test_support.h"

namespace musefm {
namespace {

double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * v;
  return std::sqrt(s / std::max<size_t>(1, x.size()));
}

// Frequency of the strongest zero-crossing rate: good enough for a pure sine.
double zero_crossing_hz(const std::vector<float>& x, int rate) {
  int crossings = 0;
  for (size_t i = 1; i < x.size(); ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
  return crossings / 2.0 / (double(x.size()) / rate);
}

TEST(AudioDecode, RealOggVorbisRecording) {
  const AudioInfo info = probe_audio(test::fixture("real_music.ogg"));
  EXPECT_EQ(info.format, "OGG (OGG Container format)");
  EXPECT_EQ(info.subtype, "Vorbis");
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.sample_rate, 48000);
  EXPECT_NEAR(info.duration_s(), 4.0, 0.01);
  const Audio a = load_audio(test::fixture("real_music.ogg"));
  EXPECT_EQ(a.sample_rate, 24000);
  EXPECT_EQ(a.channels, 1);
  EXPECT_EQ(a.frames(), 96000);
  EXPECT_GT(rms(a.samples), 0.01);  // music, not silence
}

TEST(AudioDecode, RealOpusRecordingKeepsChannels) {
  AudioLoadOptions opt;
  opt.mono = false;
  opt.target_rate = 0;
  const Audio a = load_audio(test::fixture("real_music.opus"), opt);
  EXPECT_EQ(a.channels, 2);
  EXPECT_EQ(a.sample_rate, 48000);
  EXPECT_NEAR(a.duration_s(), 4.0, 0.02);
  EXPECT_GT(rms(a.samples), 0.01);
}

TEST(AudioDecode, WavAndFlacRoundTripExactly) {
  std::vector<float> x(4000);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(std::round(8000 * std::sin(0.01 * i))) / 32768.f;
  const std::string dir = test::temp_dir();
  for (int fmt : {SF_FORMAT_WAV | SF_FORMAT_PCM_16, SF_FORMAT_FLAC | SF_FORMAT_PCM_16}) {
    const std::string path = dir + "/x" + std::to_string(fmt) + ".audio";
    test::write_sndfile(path, x, 1, 16000, fmt);
    AudioLoadOptions opt;
    opt.target_rate = 0;
    const Audio a = load_audio(path, opt);
    ASSERT_EQ(a.samples.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(a.samples[i], x[i]) << "sample " << i;
  }
}

TEST(AudioDecode, MixToMonoAveragesChannels) {
  const std::vector<float> st{1.f, 0.f, 0.5f, -0.5f, -1.f, 1.f};
  EXPECT_EQ(mix_to_mono(st, 2), (std::vector<float>{0.5f, 0.f, 0.f}));
  EXPECT_THROW(mix_to_mono(st, 0), Error);
}

TEST(AudioDecode, ResamplePreservesPitchAndLength) {
  const int from = 44100, to = 24000;
  std::vector<float> x(from * 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(0.5 * std::sin(2 * M_PI * 440.0 * i / from));
  for (auto q : {ResampleQuality::Best, ResampleQuality::Fastest, ResampleQuality::Linear,
                 ResampleQuality::SoxrHq}) {
    const auto y = resample(x, 1, from, to, q);
    EXPECT_EQ(y.size(), size_t(48000)) << to_string(q);
    EXPECT_NEAR(zero_crossing_hz(y, to), 440.0, 2.0) << to_string(q);
    EXPECT_NEAR(rms(y), 0.5 / std::sqrt(2.0), 0.01) << to_string(q);
  }
}

// A decoded file is resampled block by block, the end of input signalled by an empty block: the
// converter's delayed tail must come out then too (libsamplerate ignores a null input pointer,
// and the last ~6 ms of every resampled file used to be zeros).
TEST(AudioDecode, StreamedResampleKeepsTheTailOfTheOneShot) {
  const std::string wav = test::fixture("real_24k.wav");
  const Audio native = load_audio(wav);
  AudioLoadOptions opt;
  opt.target_rate = 16000;
  const Audio streamed = load_audio(wav, opt);
  const std::vector<float> one_shot = resample(native.samples, 1, 24000, 16000);
  ASSERT_EQ(streamed.samples.size(), one_shot.size());
  EXPECT_EQ(streamed.samples, one_shot);
  double tail = 0;
  for (size_t i = one_shot.size() - 100; i < one_shot.size(); ++i) tail += std::abs(one_shot[i]);
  EXPECT_GT(tail, 1.0);  // real music up to the last sample, not zero padding
}

// The streaming libsoxr converter (what extract uses by default) against the one-shot call the
// CQT's parity with librosa / python-soxr rests on (audio/soxr_resample.h), and the same file
// decoded and resampled block by block equals the one-shot conversion.
TEST(AudioDecode, SoxrHqStreamsAsTheOneShotAndAsLibrosa) {
  const std::string wav = test::fixture("real_24k.wav");
  const Audio native = load_audio(wav);
  for (int to : {16000, 44100}) {
    const std::vector<float> ours = resample(native.samples, 1, 24000, to, ResampleQuality::SoxrHq);
    const std::vector<float> ref =
        features_detail::soxr_resample(native.samples.data(), native.frames(), 24000, to);
    ASSERT_EQ(ours.size(), ref.size()) << to;
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, double(std::abs(ours[i] - ref[i])));
    EXPECT_LT(worst, 1e-6) << to;  // the same filter; only the final samples' flush may differ
    AudioLoadOptions opt;
    opt.target_rate = to;
    opt.quality = ResampleQuality::SoxrHq;
    EXPECT_EQ(load_audio(wav, opt).samples, ours) << to;  // block by block, one stream
  }
}

TEST(AudioDecode, ResampleRejectsImpossibleRatio) {
  std::vector<float> x(100, 0.f);
  EXPECT_THROW(resample(x, 1, 1, 1000, ResampleQuality::Best), Error);
}

TEST(AudioDecode, QualityNamesRoundTrip) {
  for (const char* n : {"best", "medium", "fastest", "zoh", "linear", "soxr-hq"})
    EXPECT_EQ(to_string(parse_resample_quality(n)), n);
  try {
    parse_resample_quality("great");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "resample quality must be best, medium, fastest, zoh, linear or soxr-hq, got "
                  "\"great\""),
              std::string::npos);
  }
}

TEST(AudioDecode, MemoryDecodeMatchesFileDecode) {
  const std::string bytes = test::read_bytes(test::fixture("real_music.ogg"));
  const Audio m = decode_audio_memory(bytes.data(), bytes.size(), "mem.ogg");
  const Audio f = load_audio(test::fixture("real_music.ogg"));
  EXPECT_EQ(m.samples, f.samples);
}

}  // namespace
}  // namespace musefm
