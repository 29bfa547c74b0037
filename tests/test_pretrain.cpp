// Pretraining: recipes, masks, schedule, AdamW and the loss against the PyTorch reference
// (tools/make_pretrain_fixtures.py), learning, label verification, exact resume, export.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "musefm/encoder.h"
#include "musefm/overrides.h"
#include "musefm/safetensors.h"
#include "musefm/teachers.h"
#include "musefm/train.h"
#include "support/pretrain_data.h"
#include "support/test_support.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/model.h"
#include "train/optim.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;
using namespace train_detail;

std::string recipe(const std::string& name) {
  return std::string(MUSEFM_CONFIGS_DIR) + "/pretrain/" + name;
}

TEST(PretrainConfig, RecipesRoundTripAndValidate) {
  for (const char* name :
       {"tiny-cpu.json", "mert-v1-95m.json", "mert-v1-330m.json", "musicfm.json"}) {
    SCOPED_TRACE(name);
    const PretrainConfig c = PretrainConfig::load(recipe(name));
    const PretrainConfig back = PretrainConfig::from_json(c.to_json());
    EXPECT_EQ(back.to_json(), c.to_json());
  }
  const PretrainConfig m95 = PretrainConfig::load(recipe("mert-v1-95m.json"));
  EXPECT_EQ(m95.model.hidden_size, 768);  // the model path resolved relative to the recipe
  EXPECT_EQ(m95.data.labels.size(), 8u);
  const PretrainConfig m330 = PretrainConfig::load(recipe("mert-v1-330m.json"));
  EXPECT_TRUE(m330.model.do_stable_layer_norm);
  EXPECT_EQ(m330.optim.accumulate, 8);
}

TEST(PretrainConfig, OverridesAndClearErrors) {
  const PretrainConfig c = PretrainConfig::load(
      recipe("tiny-cpu.json"), {"optim.lr=1e-3", "run.device=cpu", "data.labels=[\"a\",\"b\"]"});
  EXPECT_DOUBLE_EQ(c.optim.lr, 1e-3);
  EXPECT_EQ(c.data.labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_NE(test::error_of([] {
              PretrainConfig::load(recipe("tiny-cpu.json"), {"optim.lrr=1"});
            }).find("unknown key 'lrr'"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              PretrainConfig::load(recipe("tiny-cpu.json"), {"optim.lr=-1"});
            }).find("optim.lr"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              PretrainConfig::load(recipe("tiny-cpu.json"), {"nonsense"});
            }).find("section.key=value"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              PretrainConfig::load(recipe("tiny-cpu.json"),
                                   {"objective.masking=\"noise\"", "objective.mask_prob=2"});
            }).find("objective.mask_prob"),
            std::string::npos);
  // MusicFM masks the waveform; a learned mask embedding needs MERT.
  EXPECT_NE(test::error_of([] {
              PretrainConfig::load(recipe("musicfm.json"), {"objective.masking=\"span\""});
            }).find("objective.masking"),
            std::string::npos);
}

TEST(PretrainMasks, SpanMaskIsDeterministicAndCoversTheExpectedShare) {
  const auto a = span_mask(375, 0.8, 5, 2, 42), b = span_mask(375, 0.8, 5, 2, 42);
  EXPECT_EQ(a, b);
  double share = 0;
  for (uint64_t k = 0; k < 200; ++k) {
    const auto m = span_mask(375, 0.8, 5, 2, k);
    share += double(std::count(m.begin(), m.end(), 1)) / 375 / 200;
  }
  // 60 spans of 5 frames among 371 starts, overlaps merged: 1 - (1 - 5/371)^60 = 0.56.
  EXPECT_NEAR(share, 0.56, 0.03);
  EXPECT_NE(span_mask(375, 0.8, 5, 2, 1), span_mask(375, 0.8, 5, 2, 2));
  const auto tiny = span_mask(8, 0.0, 5, 2, 3);  // min_masks spans even at mask_prob 0
  EXPECT_GE(std::count(tiny.begin(), tiny.end(), 1), 2);
  const auto none = span_mask(8, 0.0, 5, 0, 3);
  EXPECT_EQ(std::count(none.begin(), none.end(), 1), 0);
}

TEST(PretrainSchedule, WarmupPolynomialCosine) {
  PretrainOptimConfig o;
  o.lr = 1e-3;
  o.warmup_steps = 10;
  o.max_steps = 110;
  EXPECT_DOUBLE_EQ(learning_rate(o, 5), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(o, 10), 1e-3);
  EXPECT_NEAR(learning_rate(o, 60), 5e-4, 1e-15);  // linear decay half-way
  EXPECT_NEAR(learning_rate(o, 110), 0.0, 1e-15);
  o.schedule = LrSchedule::Cosine;
  o.end_lr = 1e-4;
  EXPECT_NEAR(learning_rate(o, 60), 1e-4 + 0.5 * 9e-4, 1e-15);
  o.schedule = LrSchedule::Constant;
  EXPECT_DOUBLE_EQ(learning_rate(o, 100), 1e-3);
}

TEST(PretrainOptim, AdamWMatchesTorch) {
  const auto f = SafeTensorsFile::open(test::fixture("pretrain/adamw.safetensors"));
  Named params;
  for (const char* n : {"a", "b", "c"})
    params.emplace_back(n, f.get(std::string("init/") + n).clone());
  PretrainOptimConfig o;  // betas 0.9 / 0.98, eps 1e-6, weight decay 0.01: the fixture's
  AdamW adam(adamw_options(o), params);
  const double lrs[] = {1e-3, 5e-4, 2e-3};
  for (int s = 0; s < 3; ++s) {
    for (auto& [n, p] : params)
      p.mutable_grad() = f.get("grad" + std::to_string(s) + "/" + n).clone();
    adam.step(lrs[s]);
    for (auto& [n, p] : params)
      EXPECT_LT(test::max_rel_error(p, f.get("after" + std::to_string(s) + "/" + n)), 1e-6)
          << n << " step " << s;
  }
}

// The loss and every gradient against transformers' HubertModel with MERT's heads.
TEST(PretrainLoss, MatchesThePyTorchReference) {
  const auto f = SafeTensorsFile::open(test::fixture("pretrain/loss.safetensors"));
  PretrainConfig c;
  c.model = EncoderConfig::from_json(f.metadata().at("config"));
  c.model.attention = AttentionImpl::Sdpa;
  c.data.labels = {"a", "b"};
  c.objective.final_dim = 8;
  c.objective.feature_grad_mult = 0.1;
  PretrainModel model(c, {7, 5}, at::Device(at::kCPU));
  const auto w = [&](const std::string& n) { return f.get("weight/" + n); };
  const auto g = [&](const std::string& n) { return f.get("grad/" + n); };
  const auto hf_name = [](const std::string& n, const std::string& from, const std::string& to) {
    return n.substr(0, n.find(from)) + to + n.substr(n.find(from) + from.size());
  };
  const auto reference = [&](const std::string& n,
                             const std::function<at::Tensor(const std::string&)>& get) {
    if (n.find("qkv_proj") != std::string::npos)
      return at::cat({get(hf_name(n, "qkv_proj", "q_proj")), get(hf_name(n, "qkv_proj", "k_proj")),
                      get(hf_name(n, "qkv_proj", "v_proj"))});
    if (n.find("weight_g") != std::string::npos)
      return get(hf_name(n, "weight_g", "parametrizations.weight.original0"));
    if (n.find("weight_v") != std::string::npos)
      return get(hf_name(n, "weight_v", "parametrizations.weight.original1"));
    return get(n);
  };
  {
    at::NoGradGuard no_grad;
    for (auto& [n, p] : model.params()) p.copy_(reference(n, w));
  }
  const at::Tensor wav = f.get("wav"), mask = f.get("mask").to(at::kBool),
                   targets = f.get("targets");
  LossScale scale{f.get("masked").item<double>(), f.get("feature_elems").item<double>()};
  auto [loss, sums] =
      model.forward(wav, wav, {targets[0], targets[1]}, mask, scale, /*training=*/true);
  EXPECT_NEAR(loss.item<double>(), f.get("loss").item<double>(), 1e-4);
  const auto* s = sums.values.data_ptr<double>();
  const at::Tensor ce = f.get("ce"), correct = f.get("correct");
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(s[i], ce[i].item<double>(), 1e-3 * ce[i].item<double>());
    EXPECT_EQ(s[2 + i], correct[i].item<double>());
  }
  EXPECT_NEAR(s[4], f.get("sse").item<double>(), 1e-4 * f.get("sse").item<double>());
  EXPECT_NEAR(s[5], f.get("pen_sum").item<double>(), 1e-4 * f.get("pen_sum").item<double>());
  loss.backward();
  for (auto& [n, p] : model.params()) {
    SCOPED_TRACE(n);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_LT(test::max_rel_error(p.grad(), reference(n, g)), 2e-4);
  }
}

// objective.cqt_target / cqt_frames: with the CQT head zeroed the prediction is 0, so the
// reported squared error is the target's own energy: |CQT|^2 (MERT) or log1p(|CQT| / 1e-3)^2,
// summed over the masked frames (MERT) or every frame.
TEST(PretrainLoss, CqtTargetMagnitudeOrLog) {
  const auto f = SafeTensorsFile::open(test::fixture("pretrain/loss.safetensors"));
  const at::Tensor wav = f.get("wav"), mask = f.get("mask").to(at::kBool),
                   targets = f.get("targets");
  LossScale scale{f.get("masked").item<double>(), f.get("feature_elems").item<double>()};
  PretrainConfig c;
  c.model = EncoderConfig::from_json(f.metadata().at("config"));
  c.data.labels = {"a", "b"};
  c.objective.final_dim = 8;
  const at::Tensor cqt =
      CqtTarget(c.model.sample_rate, c.model.frame_rate())(wav, mask.size(1)).index({mask});
  const at::Tensor every = CqtTarget(c.model.sample_rate, c.model.frame_rate())(wav, mask.size(1));
  std::map<std::string, double> sse;
  for (const char* kind : {"magnitude", "log", "log-all"}) {
    c.objective.cqt_target =
        std::string(kind) == "magnitude" ? CqtTargetScale::Magnitude : CqtTargetScale::Log;
    c.objective.cqt_frames = std::string(kind) == "log-all" ? CqtFrames::All : CqtFrames::Masked;
    c.validate();
    PretrainModel model(c, {7, 5}, at::Device(at::kCPU));
    model.init(3);
    {
      at::NoGradGuard no_grad;
      for (auto& [n, p] : model.params())
        if (n.find("cqt_head") != std::string::npos) p.zero_();
    }
    auto [loss, sums] =
        model.forward(wav, wav, {targets[0], targets[1]}, mask, scale, /*training=*/false);
    sse[kind] = sums.values.data_ptr<double>()[4];
  }
  const double bins = double(cqt.size(1));
  EXPECT_NEAR(sse["magnitude"], cqt.square().sum().item<double>() / bins, 1e-4 * sse["magnitude"]);
  EXPECT_NEAR(sse["log"], at::log1p(cqt * 1e3).square().sum().item<double>() / bins,
              1e-4 * sse["log"]);
  // every frame, the visible ones too
  EXPECT_NEAR(sse["log-all"], at::log1p(every * 1e3).square().sum().item<double>() / bins,
              1e-4 * sse["log-all"]);
  EXPECT_GT(sse["log-all"], sse["log"]);
  const auto with = [&](const std::string& set) {
    return test::error_of([&] { with_overrides(c, {set}); });
  };
  EXPECT_NE(with("objective.cqt_frames=some").find("objective.cqt_frames must be masked or all"),
            std::string::npos);
  EXPECT_NE(with("objective.cqt_target=db").find("objective.cqt_target must be magnitude or log"),
            std::string::npos);
}

TEST(Pretrainer, RefusesLabelsThatFailVerificationBeforeAnyCompute) {
  const std::string dir = test::make_pretrain_data(test::temp_dir() + "/bad", 4);
  {  // one label line too few
    std::ifstream in(dir + "/train.km");
    std::string all, line;
    std::getline(in, line);
    while (std::getline(in, line)) all += line + "\n";
    std::ofstream(dir + "/train.km") << all;
  }
  const PretrainConfig c = test::tiny_pretrain_config(dir);
  const std::string out = test::temp_dir() + "/bad_run";
  const std::string msg = test::error_of([&] { Pretrainer p(c, out); });
  EXPECT_NE(msg.find("fail verification"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.km"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out));  // nothing written
  PretrainConfig missing = c;
  missing.data.labels = {"encodec_0"};
  const std::string m2 = test::error_of([&] { Pretrainer p(missing, out); });
  EXPECT_NE(m2.find("train.encodec_0"), std::string::npos) << m2;
}

TEST(Pretrainer, LearnsResumesExactlyAndExports) {
  const std::string dir = test::make_pretrain_data(test::temp_dir() + "/learn", 6);
  PretrainConfig c = test::tiny_pretrain_config(dir);
  c.optim.max_steps = 30;
  c.optim.warmup_steps = 5;
  c.run.checkpoint_every = 10;
  const std::string out = test::temp_dir() + "/learn_run";
  std::vector<double> losses;
  {
    Pretrainer p(c, out);
    const PretrainResult r = p.run([&](const StepRecord& s) { losses.push_back(s.loss); });
    EXPECT_EQ(r.last_step, 30);
  }
  ASSERT_EQ(losses.size(), 30u);
  const double first = (losses[0] + losses[1] + losses[2]) / 3,
               last = (losses[27] + losses[28] + losses[29]) / 3;
  EXPECT_LT(last, 0.8 * first) << "loss " << first << " -> " << last;

  // Resume: 12 steps, then a new Pretrainer in the same folder continues to 30.
  const std::string out2 = test::temp_dir() + "/learn_run2";
  int64_t stopped_at = 0;
  {  // stopped after step 12 as by SIGTERM (same schedule: the learning rate depends on max_steps)
    Pretrainer p(c, out2);
    const PretrainResult r = p.run([](const StepRecord& s) {
      if (s.step == 12) Pretrainer::request_stop();
    });
    EXPECT_GE(r.last_step, 12);  // the update in flight when the request arrives completes
    EXPECT_LT(r.last_step, 30);
    stopped_at = r.last_step;
  }
  PretrainConfig rest = c;
  {
    Pretrainer p(rest, out2);
    EXPECT_EQ(p.next_step(), stopped_at);
    p.run();
  }
  const Checkpoint a = load_checkpoint(latest_checkpoint(out)),
                   b = load_checkpoint(latest_checkpoint(out2));
  EXPECT_EQ(a.state.step, 30);
  EXPECT_EQ(b.state.step, 30);
  for (const auto& [n, t] : a.tensors) EXPECT_TRUE(at::equal(t, b.tensors.at(n))) << n;

  // A config that differs in the model refuses to resume.
  PretrainConfig other = c;
  other.model.num_hidden_layers = 3;
  other.optim.max_steps = 40;
  EXPECT_NE(test::error_of([&] { Pretrainer p(other, out2); }).find("model.num_hidden_layers"),
            std::string::npos);

  // Export: the encoder loads and its weights are the checkpoint's.
  const std::string model_dir = test::temp_dir() + "/learn_model";
  export_checkpoint(latest_checkpoint(out), model_dir);
  const Encoder enc = Encoder::load(model_dir);
  const auto states = enc.forward(test::load_wav(test::fixture("real_24k.wav")).unsqueeze(0));
  EXPECT_EQ(int(states.size()), c.model.num_hidden_layers + 1);
  EXPECT_TRUE(at::isfinite(states.back()).all().item<bool>());
  const auto exported = SafeTensorsFile::open(model_dir + "/model.safetensors");
  const at::Tensor qkv = a.tensors.at("param/encoder.layers.0.attention.qkv_proj.weight");
  EXPECT_TRUE(at::equal(exported.get("encoder.layers.0.attention.k_proj.weight"),
                        qkv.narrow(0, c.model.hidden_size, c.model.hidden_size)));
}

}  // namespace
}  // namespace musefm

namespace musefm {
namespace {
// The loader's targets line up with its audio: the test labels are the quantised energy of each
// 10 ms frame, so recomputing them from the crop must give the targets back.
TEST(PretrainLoader, TargetsLineUpWithTheCroppedAudio) {
  const std::string dir = test::make_pretrain_data(test::temp_dir() + "/align", 5);
  PretrainConfig c = test::tiny_pretrain_config(dir);
  c.data.mixup_prob = 0;
  auto group = Collective::single();
  const Split split = open_split(c, "train", *group);
  BatchPlanner planner(c, split);
  Loader loader(c, split, planner, 0, 1, 1, 0, 0);
  int64_t same = 0, total = 0;
  for (int k = 0; k < 4; ++k) {
    const Update u = loader.next();
    ASSERT_EQ(u.batches.size(), 1u);
    const Batch& b = u.batches[0];
    for (int64_t r = 0; r < int64_t(b.plan.items.size()); ++r) {
      const int64_t start = b.plan.starts[size_t(r)];
      const int64_t label_start = (start * 100 + 12000) / 24000;
      const float* x = b.clean[r].data_ptr<float>();
      for (int64_t i = 0; i < b.plan.frames; ++i) {
        const int64_t j = label_start + (i * 100) / 75;  // label frame of encoder frame i
        const int64_t from = j * 240 - start;
        if (from < 0 || from + 240 > b.plan.crop) continue;
        double e = 1e-8;
        for (int64_t t = from; t < from + 240; ++t) e += double(x[t]) * x[t];
        const int64_t q = std::clamp<int64_t>(int64_t((10 * std::log10(e / 240) + 60) / 7.5), 0, 7);
        same += q == b.targets[0][r][i].item<int64_t>();
        ++total;
      }
    }
  }
  ASSERT_GT(total, 100);
  EXPECT_GT(double(same) / total, 0.95) << same << " of " << total;
}
}  // namespace
}  // namespace musefm

namespace musefm {
namespace {
// MusicFM's objective: noise-masked waveform, linear head, BatchNorm in training mode.
TEST(Pretrainer, TrainsAndExportsAMusicFmModel) {
  const std::string dir = test::make_pretrain_data(test::temp_dir() + "/mfm", 6);
  PretrainConfig c = test::tiny_pretrain_config(dir);
  c.model = EncoderConfig::load(std::string(MUSEFM_CONFIGS_DIR) + "/tiny-musicfm.json");
  c.objective.prediction = Prediction::Linear;
  c.objective.masking = Masking::Noise;
  c.objective.cqt_weight = 0;
  c.objective.feature_pen_weight = 0;
  c.objective.feature_grad_mult = 1;
  c.optim.max_steps = 20;
  c.optim.warmup_steps = 2;
  c.run.checkpoint_every = 20;
  c.validate();
  const std::string out = test::temp_dir() + "/mfm_run";
  std::vector<StepRecord> steps;
  {
    Pretrainer p(c, out);
    p.run([&](const StepRecord& s) { steps.push_back(s); });
  }
  ASSERT_EQ(steps.size(), 20u);
  // Noise masking hits whole 400 ms chunks (10 frames at 25 Hz) with probability 0.6.
  int64_t masked = 0;
  for (const auto& s : steps) masked += s.masked_frames;
  EXPECT_GT(masked, 0);
  EXPECT_LT(steps.back().loss, steps.front().loss);
  EXPECT_EQ(steps.back().losses.count("cqt"), 0u);
  // BatchNorm running statistics were updated and are exported with the encoder.
  const Checkpoint ck = load_checkpoint(latest_checkpoint(out));
  const at::Tensor var = ck.tensors.at("buffer/conv.conv.0.bn1.running_var");
  EXPECT_FALSE(at::allclose(var, at::ones_like(var)));
  const std::string model_dir = test::temp_dir() + "/mfm_model";
  export_checkpoint(latest_checkpoint(out), model_dir);
  const Encoder enc = Encoder::load(model_dir);
  const auto states = enc.forward(test::load_wav(test::fixture("real_24k.wav")).unsqueeze(0));
  EXPECT_EQ(int(states.size()), c.model.num_hidden_layers + 1);
  EXPECT_TRUE(at::isfinite(states.back()).all().item<bool>());
}

// An item whose samples are finite but huge (1e30) overflows the CQT loss: the update is
// skipped and reported, the parameters stay finite and the run goes on. An item that stopped
// decoding is trained as silence and reported.
TEST(Pretrainer, SkipsAndReportsNonFiniteUpdates) {
  const std::string dir = test::make_pretrain_data(test::temp_dir() + "/nan", 4);
  {
    std::vector<float> loud(36000);
    for (size_t t = 0; t < loud.size(); ++t) loud[t] = 1e30f * float(int(t % 7) - 3);
    test::write_sndfile(dir + "/audio/train_0.wav", loud, 1, 24000,
                        SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    // A file whose header reads but whose samples do not decode (NaN): silence, reported.
    // Written by hand: libsndfile's writer clips the NaNs away.
    const uint32_t n = 36000 + 7919 % 36000, bytes = n * 4;
    std::string wav = "RIFF" + std::string(4, '\0') + "WAVEfmt " + std::string(20, '\0') + "data" +
                      std::string(4, '\0') + std::string(bytes, '\0');
    const auto put = [&](size_t at, uint32_t v, int size) {
      for (int k = 0; k < size; ++k) wav[at + size_t(k)] = char((v >> (8 * k)) & 0xff);
    };
    put(4, 36 + bytes, 4);
    put(16, 16, 4);         // fmt chunk size
    put(20, 3, 2);          // WAVE_FORMAT_IEEE_FLOAT
    put(22, 1, 2);          // mono
    put(24, 24000, 4);      // rate
    put(28, 24000 * 4, 4);  // bytes per second
    put(32, 4, 2);          // block align
    put(34, 32, 2);         // bits per sample
    put(40, bytes, 4);
    const float qnan = std::nanf("");
    for (uint32_t i = 0; i < n; ++i) std::memcpy(&wav[44 + 4 * size_t(i)], &qnan, 4);
    test::write_bytes(dir + "/audio/train_1.wav", wav);
  }
  PretrainConfig c = test::tiny_pretrain_config(dir);
  c.data.max_tokens = 24000;  // one item per update
  c.data.mixup_prob = 0;
  c.optim.max_steps = 8;
  c.optim.max_skipped_steps = 8;
  int skipped = 0, done = 0;
  const std::string out = test::temp_dir() + "/nan_run";
  {
    Pretrainer p(c, out);
    p.run([&](const StepRecord& s) {
      skipped += s.skipped;
      ++done;
    });
  }
  EXPECT_EQ(done, 8);
  EXPECT_GE(skipped, 1);
  EXPECT_LT(skipped, 8);
  for (const auto& [n, t] : load_checkpoint(latest_checkpoint(out)).tensors)
    EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << n;
  const std::string log = test::read_bytes(out + "/train.jsonl");
  EXPECT_NE(log.find("\"event\":\"unreadable\""), std::string::npos);
  EXPECT_NE(log.find("train_1.wav"), std::string::npos);
  EXPECT_NE(log.find("\"skipped\":true"), std::string::npos);
}
}  // namespace
}  // namespace musefm
