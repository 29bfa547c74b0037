// AudioStream: identical to load_audio, bounded memory.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sndfile.h>

#include <cmath>

#include "musefm/audio.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string long_flac(double seconds, int rate) {
  static std::string path;
  if (!path.empty()) return path;
  path = test::temp_dir() + "/long.flac";
  std::vector<float> x(size_t(seconds * rate) * 2);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(0.2 * std::sin(0.001 * double(i) * (1 + (i / 4096) % 5)));
  test::write_sndfile(path, x, 2, rate, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  return path;
}

TEST(AudioStream, ConcatenatedBlocksEqualLoadAudio) {
  const std::string p = long_flac(30, 44100);
  for (auto q : {ResampleQuality::Best, ResampleQuality::SoxrHq}) {
    AudioLoadOptions opt;
    opt.quality = q;
    const Audio full = load_audio(p, opt);
    for (int64_t block : {1000, 24000, 100003}) {
      AudioStream s(p, opt, block);
      EXPECT_EQ(s.sample_rate(), 24000);
      EXPECT_EQ(s.expected_frames(), full.frames());
      std::vector<float> all, b;
      while (s.read(b)) {
        ASSERT_LE(int64_t(b.size()), block);
        all.insert(all.end(), b.begin(), b.end());
      }
      EXPECT_EQ(s.position(), full.frames());
      ASSERT_EQ(all.size(), full.samples.size()) << "block " << block;
      EXPECT_EQ(all, full.samples) << "block " << block << " " << to_string(q);
    }
  }
}

TEST(AudioStream, HeapStaysBoundedOnLongFiles) {
  const std::string p = long_flac(30, 44100);  // 30 s stereo: 2.9 MB as mono float at 24 kHz
  AudioStream s(p, {}, 4800);
  std::vector<float> b;
  s.read(b);
  const size_t base = mallinfo2().uordblks;
  size_t peak = 0;
  while (s.read(b)) peak = std::max(peak, size_t(mallinfo2().uordblks));
  const double grown_mb = (double(peak) - double(base)) / 1e6;
  EXPECT_LT(grown_mb, 1.0) << "streaming heap grew by " << grown_mb << " MB";
}

}  // namespace
}  // namespace musefm
