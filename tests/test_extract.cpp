// Extractor / ExtractStream: window stitching on the global frame grid, streaming equals
// offline, batches equal one-by-one, layer selection and weighting, config errors.
#include <gtest/gtest.h>

#include <random>

#include "extract/window_plan.h"
#include "model/int8_linear.h"
#include "musefm/extract.h"
#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string model_dir(const std::string& name) { return test::fixture("encoders/" + name); }

// 1 s of real music at 24 kHz built from the parity fixture's two excerpts.
at::Tensor one_second() {
  const at::Tensor in = test::load_npy(model_dir("mert_tiny_postln") + "/input.npy");
  return at::cat({in[0], in[1], in[0].flip(0)}).contiguous();
}

Encoder tiny_mert() { return Encoder::load(model_dir("mert_tiny_postln")); }

// The tiny MERT made context-free: per-frame LayerNorm in the conv stack, zero value
// projections (attention adds a constant) and a zero positional conv. Every output frame then
// depends only on its own 400-sample receptive field.
Encoder context_free_mert() {
  EncoderConfig c = EncoderConfig::load(model_dir("mert_tiny_postln") + "/config.json");
  auto w = test::model_weights("mert_tiny_postln");
  c.feat_extract_norm = FeatExtractNorm::Layer;
  at::manual_seed(7);
  for (size_t i = 1; i < c.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i) + ".layer_norm";
    w[p + ".weight"] = 1 + 0.1 * at::randn({c.conv_dim[i]});
    w[p + ".bias"] = 0.1 * at::randn({c.conv_dim[i]});
  }
  for (auto it = w.begin(); it != w.end();)
    it = it->first.find("pos_conv_embed.conv.parametrizations") != std::string::npos ? w.erase(it)
                                                                                     : ++it;
  w["encoder.pos_conv_embed.conv.weight"] = at::zeros(
      {c.hidden_size, c.hidden_size / c.num_conv_pos_embedding_groups, c.num_conv_pos_embeddings});
  for (int n = 0; n < c.num_hidden_layers; ++n)
    w["encoder.layers." + std::to_string(n) + ".attention.v_proj.weight"].zero_();
  return Encoder::from_weights(c, w);
}

ExtractConfig frames_cfg(double window_s, double hop_s, int batch = 1) {
  ExtractConfig c;
  c.pool = Pool::None;
  c.window_s = window_s;
  c.hop_s = hop_s;
  c.batch = batch;
  return c;
}

TEST(WindowPlan, SpansTileTheFrameGridExactly) {
  const Encoder enc = tiny_mert();
  const auto frames = [&](int64_t n) { return enc.num_frames(n); };
  for (int64_t window : {4800, 6000, 7777}) {
    for (int64_t hop : {320, 3200, 4480}) {
      if (hop > window) continue;
      extract_detail::WindowPlanner plan(window, hop, 320, frames);
      for (int64_t total : {400, 4800, 6000, 6001, 9999, 24000, 24321}) {
        const auto spans = plan.plan(total);
        int64_t next = 0;
        for (const auto& s : spans) {
          EXPECT_EQ(s.first_frame, next) << window << "/" << hop << "/" << total;
          EXPECT_EQ(s.start % 320, 0);
          EXPECT_LE(s.end - s.start, std::max<int64_t>(window + 319, window + window / 8));
          EXPECT_GE(s.first_frame, s.start / 320);  // inside the window's own frames
          EXPECT_LE(s.end_frame, s.start / 320 + enc.num_frames(s.end - s.start));
          next = s.end_frame;
        }
        EXPECT_EQ(next, enc.num_frames(total)) << window << "/" << hop << "/" << total;
        EXPECT_EQ(spans.back().end, total);
        EXPECT_EQ(spans.front().start, 0);
      }
    }
  }
}

TEST(WindowPlan, AShortTailJoinsTheLastWindowInsteadOfCostingAPass) {
  const Encoder enc = tiny_mert();
  const auto frames = [&](int64_t n) { return enc.num_frames(n); };
  const int64_t window = 9600, hop = 9600 - 320;  // the default: window, minimal overlap
  extract_detail::WindowPlanner plan(window, hop, 320, frames);
  EXPECT_EQ(plan.plan(2 * window).size(), 2u);        // 1 frame short of two hops
  EXPECT_EQ(plan.plan(2 * window + 400).size(), 2u);  // tail within an eighth of a window
  EXPECT_EQ(plan.plan(2 * window + 3000).size(), 3u);
}

TEST(Extractor, StitchedWindowsEqualTheFullPassForAContextFreeModel) {
  const Encoder enc = context_free_mert();
  const at::Tensor wav = one_second();
  const at::Tensor full = Extractor(enc, frames_cfg(0, 0)).extract(wav);
  ASSERT_EQ(full.size(1), enc.num_frames(wav.size(0)));
  for (auto [window, hop] : {std::pair{0.2, 0.0}, {0.25, 0.2}, {0.3, 0.1}}) {
    const at::Tensor stitched = Extractor(enc, frames_cfg(window, hop)).extract(wav);
    ASSERT_EQ(stitched.sizes(), full.sizes()) << window << "/" << hop;
    EXPECT_LE(test::max_rel_error(stitched, full), 1e-5) << window << "/" << hop;
  }
  // The same windows concatenated without the frame grid (each frame shifted by one) differ.
  const at::Tensor shifted =
      at::cat({full.narrow(1, 1, full.size(1) - 1), full.narrow(1, 0, 1)}, 1);
  EXPECT_GT(test::max_rel_error(shifted, full), 1e-2);
}

TEST(Extractor, OverlapBringsTheTransformerCloserToTheFullPass) {
  const Encoder enc = tiny_mert();
  const at::Tensor wav = one_second();
  const at::Tensor full = Extractor(enc, frames_cfg(0, 0)).extract(wav);
  const at::Tensor none = Extractor(enc, frames_cfg(0.25, 0.0)).extract(wav);
  const at::Tensor half = Extractor(enc, frames_cfg(0.25, 0.125)).extract(wav);
  ASSERT_EQ(none.sizes(), full.sizes());
  ASSERT_EQ(half.sizes(), full.sizes());
  const double err_none = (none - full).abs().mean().item<double>();
  const double err_half = (half - full).abs().mean().item<double>();
  EXPECT_GT(err_none, 0);  // the transformer does see its window: not context-free
  EXPECT_LT(err_half, err_none);
}

TEST(ExtractStream, AnyBlockSizesGiveTheOfflineFrames) {
  for (const char* name : {"mert_tiny_postln", "mert_tiny_preln"}) {
    const Extractor ex(Encoder::load(model_dir(name)), frames_cfg(0.25, 0.15, 2));
    const at::Tensor wav = one_second();
    const at::Tensor offline = ex.extract(wav);
    std::mt19937 rng(3);
    for (int trial = 0; trial < 3; ++trial) {
      auto stream = ex.create_stream();
      std::vector<at::Tensor> got;
      for (int64_t at = 0; at < wav.size(0);) {
        const int64_t n = std::min<int64_t>(wav.size(0) - at, 1 + rng() % 9000);
        stream.accept_waveform(wav.narrow(0, at, n));
        got.push_back(stream.compute());
        at += n;
      }
      got.push_back(stream.flush());
      const at::Tensor frames = at::cat(got, 1);
      ASSERT_EQ(frames.sizes(), offline.sizes()) << name;
      EXPECT_LE(test::max_rel_error(frames, offline), 1e-5) << name;
      EXPECT_EQ(stream.frames_emitted(), offline.size(1));
      EXPECT_THROW(stream.accept_waveform(wav), Error);
    }
  }
}

TEST(ExtractStream, MemoryStaysBoundedByTheWindow) {
  const Extractor ex(tiny_mert(), frames_cfg(0.25, 0.2));
  auto stream = ex.create_stream();
  const at::Tensor wav = one_second();
  for (int i = 0; i < 8; ++i) {
    stream.accept_waveform(wav);
    stream.compute();
    EXPECT_LE(stream.samples_buffered(), 2 * ex.window_samples() + wav.size(0)) << i;
  }
  EXPECT_GT(stream.frames_emitted(), 0);
  EXPECT_EQ(stream.samples_accepted(), 8 * wav.size(0));
  EXPECT_EQ(stream.flush().dim(), 3);
}

TEST(ExtractStream, TooShortInputIsAnError) {
  const Extractor ex(tiny_mert(), frames_cfg(0.25, 0.2));
  auto stream = ex.create_stream();
  stream.accept_waveform(at::randn({100}));
  EXPECT_THROW(stream.flush(), Error);
  EXPECT_THROW(ex.extract(at::randn({100})), Error);
}

TEST(Extractor, BatchesOfWindowsAndInputsEqualOneByOne) {
  const Encoder enc = tiny_mert();
  const at::Tensor wav = one_second();
  const std::vector<at::Tensor> inputs{wav, wav.narrow(0, 3000, 9000), wav.narrow(0, 100, 4000)};
  for (const Pool pool : {Pool::None, Pool::Mean}) {
    ExtractConfig one = frames_cfg(0.25, 0.2, 1), many = frames_cfg(0.25, 0.2, 5);
    one.pool = many.pool = pool;
    const Extractor a(enc, one), b(enc, many);
    const auto batched = b.extract(inputs);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const at::Tensor alone = a.extract(inputs[i]);
      ASSERT_EQ(batched[i].sizes(), alone.sizes()) << pool << " " << i;
      EXPECT_LE(test::max_rel_error(batched[i], alone), 1e-5) << pool << " " << i;
    }
  }
}

TEST(Extractor, MeanStdPoolingIsTheMeanThenTheStdOfTheFrames) {
  const Encoder enc = tiny_mert();
  const at::Tensor wav = one_second();
  const at::Tensor frames = Extractor(enc, frames_cfg(0.4, 0.3)).extract(wav);  // [3, T, 64]
  ExtractConfig c = frames_cfg(0.4, 0.3);
  c.pool = Pool::MeanStd;
  const at::Tensor pooled = Extractor(enc, c).extract(wav);
  ASSERT_EQ(pooled.sizes(), (at::IntArrayRef{3, 128}));
  const at::Tensor f = frames.to(at::kDouble);
  const at::Tensor mean = f.mean(1), var = (f - mean.unsqueeze(1)).pow(2).mean(1);
  EXPECT_LE(test::max_rel_error(pooled.narrow(1, 0, 64), mean.to(at::kFloat)), 1e-5);
  EXPECT_LE(test::max_rel_error(pooled.narrow(1, 64, 64), var.sqrt().to(at::kFloat)), 1e-5);
  EXPECT_GT(pooled.narrow(1, 64, 64).min().item<float>(), 0.0f);  // frames do vary
  c.pool = Pool::Mean;
  EXPECT_TRUE(at::equal(Extractor(enc, c).extract(wav), pooled.narrow(1, 0, 64)));
  EXPECT_EQ(parse_enum<Pool>("mean+std", "pool"), Pool::MeanStd);
}

TEST(Extractor, LayerSelectionAndWeighting) {
  const Encoder enc = tiny_mert();
  const at::Tensor wav = one_second().narrow(0, 0, 8000);
  const auto states = enc.forward(wav);
  ExtractConfig c = frames_cfg(0, 0);
  c.layers = "0,-1";
  const at::Tensor two = Extractor(enc, c).extract(wav);
  ASSERT_EQ(two.size(0), 2);
  EXPECT_LE(test::max_rel_error(two[1], states.back()[0]), 1e-6);
  c.layers = "weighted";
  c.layer_weights = {1.0, 0.0, 3.0};
  const Extractor weighted(enc, c);
  EXPECT_EQ(weighted.num_outputs(), 1);
  const at::Tensor expect = (states[0][0] * 0.25 + states[2][0] * 0.75);
  EXPECT_LE(test::max_rel_error(weighted.extract(wav)[0], expect), 1e-5);
  c.layer_weights = {1.0, 2.0};
  EXPECT_THROW(Extractor(enc, c), Error);  // 3 hidden states, 2 weights
  c.layer_weights = {};
  c.layers = "0,7";
  EXPECT_THROW(Extractor(enc, c), Error);
  c.layers = "1,x";
  EXPECT_THROW(Extractor(enc, c), Error);
}

TEST(Encoder, StopsAfterTheRequestedHiddenStates) {
  for (const char* name : {"mert_tiny_postln", "mert_tiny_preln", "musicfm_tiny"}) {
    const Encoder enc = Encoder::load(model_dir(name));
    const at::Tensor wav = one_second().narrow(0, 0, 12000);
    const auto all = enc.forward(wav);
    for (int n = 1; n <= int(all.size()); ++n) {
      const auto some = enc.forward(wav, n);
      ASSERT_EQ(int(some.size()), n) << name;
      for (int i = 0; i < n; ++i)
        EXPECT_TRUE(some[size_t(i)].equal(all[size_t(i)])) << name << " " << i;
    }
    ExtractConfig c = frames_cfg(0, 0);
    c.layers = "1";
    EXPECT_EQ(Extractor(enc, c).states_needed(), 2) << name;
    EXPECT_TRUE(Extractor(enc, c).extract(wav)[0].equal(all[1][0])) << name;
  }
}

TEST(ExtractConfig, ValidatesAndRoundTrips) {
  ExtractConfig c = frames_cfg(10, 5, 4);
  c.layers = "weighted";
  c.layer_weights = {0.5, 0.5};
  EXPECT_EQ(ExtractConfig::from_json(c.to_json()).to_json(), c.to_json());
  const auto error_of = [](const std::string& json) {
    try {
      ExtractConfig::from_json(json);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(R"({"pool": "max"})").find("pool"), std::string::npos);
  EXPECT_NE(error_of(R"({"window_s": 5, "hop_s": 6})").find("hop_s"), std::string::npos);
  EXPECT_NE(error_of(R"({"batch": 0})").find("batch"), std::string::npos);
  EXPECT_NE(error_of(R"({"layer_weights": [1, 2]})").find("weighted"), std::string::npos);
  EXPECT_NE(error_of(R"({"windows": 3})").find("unknown key 'windows'"), std::string::npos);
}

}  // namespace
}  // namespace musefm

namespace musefm {
namespace {

// Worst per-frame cosine similarity between two [outputs, T, H] results.
double worst_frame_cosine(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor a64 = a.to(at::kDouble), b64 = b.to(at::kDouble);
  const at::Tensor cos = (a64 * b64).sum(-1) / (a64.norm(2, -1) * b64.norm(2, -1) + 1e-30);
  return cos.min().item<double>();
}

// bf16 runs the matrix products in bfloat16 (7-bit mantissa): every frame of every layer stays
// within cosine 0.999 of fp32 (measured on full-size shapes: tools/check_precision.py), the
// results are float32, and bf16 really ran (the outputs are not fp32's bits).
TEST(Precision, Bf16StaysWithinToleranceOfFp32OnBothFamilies) {
  for (const char* name : {"mert_tiny_postln", "mert_tiny_preln", "musicfm_tiny"}) {
    const Encoder enc = Encoder::load(model_dir(name));
    ExtractConfig c = frames_cfg(0, 0);
    c.layers = "all";
    const at::Tensor fp32 = Extractor(enc, c).extract(one_second());
    c.precision = Precision::Bf16;
    const Extractor ex(enc, c);
    EXPECT_EQ(ex.encoder().precision(), Precision::Bf16);
    const at::Tensor bf16 = ex.extract(one_second());
    ASSERT_EQ(bf16.scalar_type(), at::kFloat) << name;
    ASSERT_EQ(bf16.sizes(), fp32.sizes()) << name;
    EXPECT_GE(worst_frame_cosine(bf16, fp32), 0.999) << name;
    EXPECT_GT((bf16 - fp32).abs().max().item<double>(), 1e-6) << name << ": bf16 did not run";
    // The encoder it came from is unchanged (precision is per Encoder value, weights shared).
    EXPECT_EQ(enc.precision(), Precision::Fp32);
  }
}

// int8: the transformer's linear layers with int8 weights and dynamically quantised
// activations. Every frame stays within cosine 0.99 of fp32 (the issue's goal for int8), the
// int8 path really ran (not bf16's bits), and the weights were quantised per output channel.
TEST(Precision, Int8StaysWithinToleranceOfFp32OnBothFamilies) {
  ASSERT_TRUE(model_detail::int8_supported()) << "this libtorch has no x86 int8 engine";
  for (const char* name : {"mert_tiny_postln", "mert_tiny_preln", "musicfm_tiny"}) {
    const Encoder enc = Encoder::load(model_dir(name));
    ExtractConfig c = frames_cfg(0, 0);
    const at::Tensor fp32 = Extractor(enc, c).extract(one_second());
    c.precision = Precision::Bf16;
    const at::Tensor bf16 = Extractor(enc, c).extract(one_second());
    c.precision = Precision::Int8;
    const Extractor ex(enc, c);
    EXPECT_EQ(ex.encoder().precision(), Precision::Int8);
    const at::Tensor int8 = ex.extract(one_second());
    ASSERT_EQ(int8.scalar_type(), at::kFloat) << name;
    ASSERT_EQ(int8.sizes(), fp32.sizes()) << name;
    EXPECT_GE(worst_frame_cosine(int8, fp32), 0.99) << name;
    EXPECT_GT((int8 - bf16).abs().max().item<double>(), 1e-4) << name << ": int8 did not run";
    EXPECT_EQ(enc.precision(), Precision::Fp32);
    // Back to fp32 from the int8 encoder: fp32's exact result again.
    EXPECT_TRUE(at::equal(Extractor(ex.encoder().with_precision(Precision::Fp32), frames_cfg(0, 0))
                              .extract(one_second()),
                          fp32));
  }
  // The float weights are not kept: back to fp32 needs the encoder int8 came from.
  const std::string gone = test::error_of([] {
    const Encoder int8_only = tiny_mert().with_precision(Precision::Int8);  // float encoder gone
    int8_only.with_precision(Precision::Fp32);
  });
  EXPECT_NE(gone.find("load the model again"), std::string::npos) << gone;
  at::manual_seed(3);
  const at::Tensor w = at::randn({8, 32}) * at::linspace(0.01, 3, 8).unsqueeze(1);
  const at::Tensor q = model_detail::quantize_weight_int8(w);
  const at::Tensor step = w.abs().amax(1, true) / 127.5;  // one row's quantisation step
  EXPECT_TRUE(((q.dequantize() - w).abs() <= step * 0.5 + 1e-7).all().item<bool>());
  EXPECT_EQ(q.q_per_channel_zero_points().abs().max().item<int64_t>(), 0);
}

TEST(Precision, Fp16OnCpuIsAClearErrorAndNamesAreChecked) {
  const std::string e = test::error_of([] { tiny_mert().with_precision(Precision::Fp16); });
  EXPECT_NE(e.find("precision fp16 needs a CUDA device"), std::string::npos) << e;
  EXPECT_NE(e.find("use fp32, bf16 or int8"), std::string::npos) << e;
  const std::string bad =
      test::error_of([] { ExtractConfig::from_json(R"({"precision": "int4"})"); });
  EXPECT_NE(bad.find("fp32, bf16, fp16 or int8"), std::string::npos) << bad;
  EXPECT_EQ(ExtractConfig::from_json(R"({"precision": "bf16"})").precision, Precision::Bf16);
}

}  // namespace
}  // namespace musefm
