// librosa 0.11 parity: cqt, feature.chroma_cqt and estimate_tuning (fixtures from
// tools/make_fixtures.py). Expected tuning values below were computed with librosa 0.11.0.
#include <gtest/gtest.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>

#include "musefm/features.h"
#include "support/test_support.h"

namespace musefm {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string scientific(double v) {
  std::ostringstream os;
  os << std::scientific << std::setprecision(3) << v;
  return os.str();
}

// pitch_tuning's histogram edge i: np.linspace(-0.5, 0.5, 101)[i] = i * (1 / 100) + -0.5.
double tuning_edge(int i) { return double(i) * (1.0 / 100) + -0.5; }

// sin(2 pi f n / sr) as float32, the way numpy builds it.
at::Tensor sine(double hz, int sample_rate, int64_t n) {
  at::Tensor t = at::arange(n, at::kDouble);
  return at::sin(t * (2 * kPi * hz) / sample_rate).to(at::kFloat);  // 2*np.pi*f*n/sr
}

TEST(ParityLibrosaCqt, DefaultsMatchLibrosa) {
  int sr = 0;
  const at::Tensor x = test::load_wav(test::fixture("real_22k.wav"), &sr);
  ASSERT_EQ(sr, 22050);
  const at::Tensor ref = test::load_npy(test::fixture("cqt_librosa.npy"));
  LibrosaCqt cqt;
  const at::Tensor out = cqt(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_EQ(out.scalar_type(), at::kFloat);
  EXPECT_EQ(cqt.num_frames(x.size(0)), ref.size(1));
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", scientific(err));
  EXPECT_LE(err, 1e-3);
}

TEST(ParityLibrosaChroma, DefaultsMatchLibrosa) {
  const at::Tensor x = test::load_wav(test::fixture("real_22k.wav"));
  const at::Tensor ref = test::load_npy(test::fixture("chroma_librosa.npy"));
  Chroma chroma;
  const at::Tensor out = chroma(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_EQ(chroma.num_frames(x.size(0)), ref.size(1));
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", scientific(err));
  EXPECT_LE(err, 1e-3);
}

TEST(ParityLibrosaChroma, QuarterToneSineMatchesLibrosa) {
  const at::Tensor x = test::load_wav(test::fixture("sine_quartertone_22k.wav"));
  const at::Tensor ref = test::load_npy(test::fixture("chroma_librosa_sharp.npy"));
  const at::Tensor out = Chroma()(x);
  ASSERT_EQ(out.sizes(), ref.sizes());
  const double err = test::max_rel_error(out, ref);
  RecordProperty("max_rel_error", scientific(err));
  EXPECT_LE(err, 1e-3);
}

TEST(ParityLibrosaTuning, QuarterToneSineMatchesLibrosa) {
  int sr = 0;
  const at::Tensor x = test::load_wav(test::fixture("sine_quartertone_22k.wav"), &sr);
  const at::Tensor ref = test::load_npy(test::fixture("tuning_librosa_sharp.npy"));
  ASSERT_EQ(ref.numel(), 1);
  const double tuning = estimate_tuning(x, sr, 36);
  // The fixture holds librosa's float64 result rounded to float32: compare at that precision,
  // and check that the value is exactly one of pitch_tuning's histogram edges.
  EXPECT_NEAR(double(float(tuning)), double(ref.item<float>()), 1e-9);
  EXPECT_EQ(tuning, tuning_edge(int(std::lround((tuning + 0.5) * 100))));
}

// tuning_librosa_cases.npy (tools/make_fixtures.py): librosa.estimate_tuning of the real clip at
// 36 and 12 bins/octave, then A440 sines at 22528 Hz (12, 36) and 22050 Hz (12, 36).
at::Tensor tuning_cases() { return test::load_npy(test::fixture("tuning_librosa_cases.npy")); }

TEST(ParityLibrosaTuning, RealClipMatchesLibrosa) {
  int sr = 0;
  const at::Tensor x = test::load_wav(test::fixture("real_22k.wav"), &sr);
  const at::Tensor ref = tuning_cases();
  EXPECT_NEAR(estimate_tuning(x, sr, 36), ref[0].item<double>(), 1e-6);
  EXPECT_NEAR(estimate_tuning(x, sr, 12), ref[1].item<double>(), 1e-6);
}

TEST(ParityLibrosaTuning, A440SinesMatchLibrosa) {
  const at::Tensor ref = tuning_cases();
  // At 22528 Hz, 440 Hz is exactly FFT bin 40 of piptrack's 2048-point STFT: an unbiased peak.
  const at::Tensor a440 = sine(440.0, 22528, 2 * 22528);
  EXPECT_NEAR(estimate_tuning(a440, 22528, 12), ref[2].item<double>(), 1e-6);
  EXPECT_NEAR(estimate_tuning(a440, 22528, 36), ref[3].item<double>(), 1e-6);
  EXPECT_EQ(ref[2].item<double>(), 0.0);  // librosa itself says "in tune" there
  // At 22050 Hz the tone falls between bins and the parabolic interpolation is biased.
  const at::Tensor a440_22k = sine(440.0, 22050, 2 * 22050);
  EXPECT_NEAR(estimate_tuning(a440_22k, 22050, 12), ref[4].item<double>(), 1e-6);
  EXPECT_NEAR(estimate_tuning(a440_22k, 22050, 36), ref[5].item<double>(), 1e-6);
}

TEST(ParityLibrosaTuning, SilenceIsZero) {
  EXPECT_EQ(estimate_tuning(at::zeros({22050}), 22050, 36), 0.0);  // empty pitch set
}

TEST(ParityLibrosaBatch, BatchedEqualsPerItem) {
  const at::Tensor a = test::load_wav(test::fixture("real_22k.wav")).narrow(0, 0, 44100);
  const at::Tensor b =
      test::load_wav(test::fixture("sine_quartertone_22k.wav")).narrow(0, 0, 44100);
  const at::Tensor batch = at::stack({a, b});
  LibrosaCqt cqt;
  const at::Tensor cb = cqt(batch);
  ASSERT_EQ(cb.dim(), 3);
  EXPECT_LE(test::max_rel_error(cb[0], cqt(a)), 1e-6);
  EXPECT_LE(test::max_rel_error(cb[1], cqt(b)), 1e-6);
  // Chroma estimates the tuning per item (the two clips have different tunings).
  Chroma chroma;
  const at::Tensor hb = chroma(batch);
  ASSERT_EQ(hb.size(0), 2);
  EXPECT_LE(test::max_rel_error(hb[0], chroma(a)), 1e-6);
  EXPECT_LE(test::max_rel_error(hb[1], chroma(b)), 1e-6);
}

TEST(ParityLibrosaBatch, FixedTuningSkipsEstimation) {
  const at::Tensor x = test::load_wav(test::fixture("sine_quartertone_22k.wav"));
  ChromaConfig fixed;
  fixed.tuning = 0.48;  // what estimate_tuning returns for this clip
  EXPECT_LE(test::max_rel_error(Chroma(fixed)(x), Chroma()(x)), 1e-6);
}

TEST(ParityLibrosaBatch, ShortInputsKeepLibrosaFrameCount) {
  LibrosaCqt cqt;
  for (int64_t n : {1, 100, 511, 512, 4097}) {
    const at::Tensor out = cqt(sine(261.6, 22050, n));
    EXPECT_EQ(out.size(1), 1 + n / 512) << n;
    EXPECT_EQ(cqt.num_frames(n), 1 + n / 512) << n;
  }
}

TEST(ParityLibrosaConfig, BadValuesThrow) {
  auto bad_cqt = [](auto edit) {
    LibrosaCqtConfig c;
    edit(c);
    EXPECT_THROW(c.validate(), Error);
    EXPECT_THROW(LibrosaCqt{c}, Error);
  };
  bad_cqt([](LibrosaCqtConfig& c) { c.sample_rate = 0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.hop_length = 0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.hop_length = 100; });  // 7 octaves need 2^6 | hop
  bad_cqt([](LibrosaCqtConfig& c) { c.fmin = 0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.n_bins = 0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.bins_per_octave = 0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.n_bins = 102; });  // librosa: ParameterError (Nyquist)
  bad_cqt([](LibrosaCqtConfig& c) { c.tuning = std::numeric_limits<double>::infinity(); });
  bad_cqt([](LibrosaCqtConfig& c) { c.tuning = 1e300; });
  bad_cqt([](LibrosaCqtConfig& c) { c.fmin = std::nan(""); });
  bad_cqt([](LibrosaCqtConfig& c) { c.n_bins = 1, c.fmin = 1e-3; });  // absurdly long filter
  bad_cqt([](LibrosaCqtConfig& c) { c.filter_scale = 0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.sparsity = 1.0; });
  bad_cqt([](LibrosaCqtConfig& c) { c.sparsity = -0.1; });
  auto bad_chroma = [](auto edit) {
    ChromaConfig c;
    edit(c);
    EXPECT_THROW(c.validate(), Error);
    EXPECT_THROW(Chroma{c}, Error);
  };
  bad_chroma([](ChromaConfig& c) { c.sample_rate = -1; });
  bad_chroma([](ChromaConfig& c) { c.hop_length = 0; });
  bad_chroma([](ChromaConfig& c) { c.hop_length = 96; });
  bad_chroma([](ChromaConfig& c) { c.n_chroma = 0; });
  bad_chroma([](ChromaConfig& c) { c.n_chroma = 10; });  // 36 is not a multiple of 10
  bad_chroma([](ChromaConfig& c) { c.n_octaves = 0; });
  bad_chroma([](ChromaConfig& c) { c.n_octaves = 9; });  // librosa: ParameterError (Nyquist)
  bad_chroma([](ChromaConfig& c) { c.bins_per_octave = 0; });
  LibrosaCqtConfig widest;  // the most bins librosa.cqt accepts at 22050 Hz
  widest.n_bins = 101;
  EXPECT_NO_THROW(widest.validate());
  ChromaConfig eight;
  eight.n_octaves = 8;
  EXPECT_NO_THROW(eight.validate());
  EXPECT_THROW(estimate_tuning(at::zeros({2, 100}), 22050, 36), Error);
  EXPECT_THROW(estimate_tuning(at::zeros({100}), 0, 36), Error);
  EXPECT_THROW(LibrosaCqt()(at::zeros({1, 2, 3})), Error);
}

TEST(ParityLibrosaConfig, JsonRoundTrip) {
  LibrosaCqtConfig c = LibrosaCqtConfig::chroma();
  ASSERT_TRUE(std::isnan(c.tuning));
  const std::string text = c.to_json();
  EXPECT_NE(text.find("\"tuning\": null"), std::string::npos) << text;
  const LibrosaCqtConfig back = LibrosaCqtConfig::from_json(text);
  EXPECT_TRUE(std::isnan(back.tuning));
  EXPECT_EQ(back.to_json(), text);
  EXPECT_EQ(back.n_bins, 252);
  EXPECT_EQ(back.bins_per_octave, 36);
  c.tuning = -0.25;
  c.sparsity = 0.0;
  c.scale = false;
  EXPECT_EQ(LibrosaCqtConfig::from_json(c.to_json()).to_json(), c.to_json());
  EXPECT_EQ(LibrosaCqtConfig::from_json(c.to_json()).tuning, -0.25);
  EXPECT_EQ(LibrosaCqtConfig::from_json("{}").to_json(), LibrosaCqtConfig().to_json());

  ChromaConfig h;
  const ChromaConfig h_back = ChromaConfig::from_json(h.to_json());
  EXPECT_TRUE(std::isnan(h_back.tuning));
  EXPECT_EQ(h_back.to_json(), h.to_json());
  h.tuning = 0.1;
  h.normalize = false;
  EXPECT_EQ(ChromaConfig::from_json(h.to_json()).to_json(), h.to_json());

  EXPECT_THROW(LibrosaCqtConfig::from_json(R"({"bins": 12})"), Error);
  EXPECT_THROW(LibrosaCqtConfig::from_json(R"({"tuning": "none"})"), Error);
  EXPECT_THROW(LibrosaCqtConfig::from_json(R"({"n_bins": 102})"), Error);
  EXPECT_THROW(LibrosaCqtConfig::from_json("[1]"), Error);
  EXPECT_THROW(LibrosaCqtConfig::from_json("{"), Error);
  EXPECT_THROW(ChromaConfig::from_json(R"({"n_chroma": 12, "fmin": 30})"), Error);
  EXPECT_THROW(ChromaConfig::from_json(R"({"normalize": 1})"), Error);
  try {
    ChromaConfig::from_json(R"({"chroma": 12})");
    FAIL() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'chroma'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace musefm
