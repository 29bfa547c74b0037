// bench_pretrain: the time of musefm's pretraining update (forward, loss, backward, clipping,
// AdamW) on a fixed batch, for benchmarks/compare_pretrain.py. Same step as Pretrainer runs:
// PretrainModel + AdamW + gradient_norm; a new span mask every step, the CQT target computed
// inside the step. Prints one JSON line: {"step_seconds": [...], "median_s", "loss_first",
// "loss_last"}.
//   bench_pretrain --model-config F --batch B --seconds S --steps N --warmup W --threads T
//                  --codebooks C --codebook-size K --final-dim D --logit-temp t --cqt-weight w
//                  --pen-weight p --mask-prob m --mask-length l --lr lr --attention a
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "musefm/audio.h"
#include "musefm/runtime.h"
#include "train/data.h"
#include "train/model.h"
#include "train/optim.h"

using namespace musefm;
using namespace musefm::train_detail;

int main(int argc, char** argv) {
  std::map<std::string, std::string> a{{"--model-config", MUSEFM_CONFIGS_DIR "/tiny-mert.json"},
                                       {"--batch", "4"},
                                       {"--seconds", "5"},
                                       {"--steps", "5"},
                                       {"--warmup", "2"},
                                       {"--threads", "2"},
                                       {"--codebooks", "8"},
                                       {"--codebook-size", "1024"},
                                       {"--final-dim", "64"},
                                       {"--logit-temp", "0.1"},
                                       {"--cqt-weight", "1"},
                                       {"--pen-weight", "10"},
                                       {"--mask-prob", "0.8"},
                                       {"--mask-length", "5"},
                                       {"--lr", "5e-4"},
                                       {"--attention", "sdpa"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!a.count(argv[i])) {
      std::fprintf(stderr, "bench_pretrain: unknown option %s\n", argv[i]);
      return 2;
    }
    a[argv[i]] = argv[i + 1];
  }
  try {
    keep_freed_memory_for_reuse();  // as the musefm CLI does (runtime.h)
    at::set_num_threads(std::stoi(a["--threads"]));
    PretrainConfig c;
    c.model = EncoderConfig::load(a["--model-config"]);
    c.model.attention = parse_enum<AttentionImpl>(a["--attention"], "--attention");
    const int C = std::stoi(a["--codebooks"]);
    c.data.labels.clear();
    for (int i = 0; i < C; ++i) c.data.labels.push_back("code_" + std::to_string(i));
    c.objective.final_dim = std::stoi(a["--final-dim"]);
    c.objective.logit_temp = std::stod(a["--logit-temp"]);
    c.objective.cqt_weight = std::stod(a["--cqt-weight"]);
    c.objective.feature_pen_weight = std::stod(a["--pen-weight"]);
    c.objective.mask_prob = std::stod(a["--mask-prob"]);
    c.objective.mask_length = std::stoi(a["--mask-length"]);
    c.optim.lr = std::stod(a["--lr"]);
    c.validate();
    const int64_t B = std::stoi(a["--batch"]), K = std::stoi(a["--codebook-size"]);
    const int64_t L = int64_t(std::stod(a["--seconds"]) * 24000);
    // The batch: real music (the test fixture) tiled, a different offset per item.
    AudioLoadOptions lo;
    const std::vector<float> y = load_audio(MUSEFM_FIXTURES_DIR "/real_24k.wav", lo).samples;
    at::Tensor wav = at::empty({B, L});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < L; ++t) wav[b][t] = y[size_t((t + b * 7001) % int64_t(y.size()))];
    const Split no_data;
    BatchPlanner frames_of(c, no_data);
    const int64_t T = frames_of.frames_for(L);
    at::manual_seed(0);
    std::vector<at::Tensor> targets;
    for (int i = 0; i < C; ++i) targets.push_back(at::randint(K, {B, T}, at::kLong));
    PretrainModel model(c, std::vector<int64_t>(size_t(C), K), at::Device(at::kCPU));
    model.init(1);
    AdamW adam(adamw_options(c.optim), model.params());
    const int steps = std::stoi(a["--steps"]), warmup = std::stoi(a["--warmup"]);
    std::vector<double> times;
    double loss_first = 0, loss_last = 0;
    for (int s = 0; s < warmup + steps; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      at::Tensor mask = at::empty({B, T}, at::kBool);
      for (int64_t b = 0; b < B; ++b) {
        const auto m = span_mask(T, c.objective.mask_prob, c.objective.mask_length, 2,
                                 mix_seed(1, {uint64_t(s), uint64_t(b)}));
        for (int64_t t = 0; t < T; ++t) mask[b][t] = m[size_t(t)] != 0;
      }
      LossScale scale{std::max(1.0, double(mask.sum().item<int64_t>())),
                      double(B * T * model.conv_channels())};
      for (auto& [n, p] : model.params()) p.mutable_grad() = at::Tensor();
      auto [loss, sums] = model.forward(wav, wav, targets, mask, scale, true);
      const auto t1 = std::chrono::steady_clock::now();
      loss.backward();
      const auto t2 = std::chrono::steady_clock::now();
      const double norm = gradient_norm(model.params());
      if (norm > 10.0) scale_gradients(model.params(), 10.0 / (norm + 1e-6));
      adam.step(c.optim.lr);
      const auto t3 = std::chrono::steady_clock::now();
      using secs = std::chrono::duration<double>;
      const double dt = secs(t3 - t0).count();
      if (std::getenv("MUSEFM_BENCH_PHASES"))
        std::fprintf(stderr, "forward %.3f s, backward %.3f s, clip + AdamW %.3f s\n",
                     secs(t1 - t0).count(), secs(t2 - t1).count(), secs(t3 - t2).count());
      if (s == 0) loss_first = loss.item<double>();
      loss_last = loss.item<double>();
      if (s >= warmup) times.push_back(dt);
    }
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    std::printf("{\"step_seconds\": [");
    for (size_t i = 0; i < times.size(); ++i) std::printf("%s%.6f", i ? ", " : "", times[i]);
    std::printf("], \"median_s\": %.6f, \"loss_first\": %.6f, \"loss_last\": %.6f}\n",
                sorted.empty() ? 0.0 : sorted[sorted.size() / 2], loss_first, loss_last);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pretrain: %s\n", e.what());
    return 1;
  }
}
