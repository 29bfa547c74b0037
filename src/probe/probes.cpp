// Probes on frozen features: L2-regularised linear models (L-BFGS / closed-form ridge) and
// MARBLE's one-hidden-layer MLP (Adam, lr grid, ReduceLROnPlateau, early stopping), on a single
// layer or a learned softmax-weighted sum of layers; scoring through musefm/metrics.h.
// Protocol and defaults: include/musefm/probe.h.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/adamw.h"
#include "core/device.h"
#include "musefm/metrics.h"
#include "musefm/probe.h"
#include "probe/probe_detail.h"

namespace musefm {
namespace probe_detail {
namespace {

// Beat targets: a frame is positive when its time lies within this of an annotated beat (at
// least the nearest frame; half of mir_eval's 70 ms F-measure window).
constexpr double kBeatTargetS = 0.035;

// Beat targets of frame rows: [N, 1] 0/1; rows of a clip are consecutive, k-th at k / rate.
at::Tensor beat_targets(const ProbeSplit& s, const std::vector<int64_t>& clip, double rate) {
  const int64_t n = int64_t(clip.size());
  at::Tensor y = at::zeros({n, 1}, at::kDouble);
  auto a = y.accessor<double, 2>();
  const double tol = std::max(kBeatTargetS, 0.5 / rate);
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    k = (i > 0 && clip[size_t(i)] == clip[size_t(i - 1)]) ? k + 1 : 0;
    const double t = double(k) / rate;
    for (double b : s.items[size_t(clip[size_t(i)])].values)
      if (std::abs(t - b) <= tol) a[i][0] = 1.0;
  }
  return y;
}

// Targets of rows (clip indices) of a split: [N] class indices, [N, C] 0/1 or [N, D] values.
at::Tensor targets(const ProbeTask& t, const ProbeSplit& s, const std::vector<int64_t>& clip,
                   double frame_rate) {
  if (t.type == ProbeTaskType::Beat) return beat_targets(s, clip, frame_rate);
  const int64_t n = int64_t(clip.size()), c = t.num_outputs();
  if (t.type == ProbeTaskType::Multiclass) {
    at::Tensor y = at::empty({n}, at::kLong);
    for (int64_t i = 0; i < n; ++i) y[i] = s.items[size_t(clip[size_t(i)])].classes[0];
    return y;
  }
  at::Tensor y = at::zeros({n, c}, at::kDouble);
  auto a = y.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const ProbeItem& item = s.items[size_t(clip[size_t(i)])];
    if (t.type == ProbeTaskType::Multilabel) {
      for (int k : item.classes) a[i][k] = 1.0;
    } else {
      for (int64_t k = 0; k < c; ++k) a[i][k] = item.values[size_t(k)];
    }
  }
  return y;
}
}  // namespace

Problem make_problem(const ProbeTask& task, const ProbeDataset& data, int layer,
                     const ProbeConfig& cfg, at::ScalarType dtype) {
  Problem p;
  p.task = &task;
  p.metric = task.metrics.at(0);
  p.outputs = task.num_outputs();
  const int64_t L = data.train.x.size(1);
  MUSEFM_CHECK(layer == kWeightedLayers || (layer >= 0 && layer < L), "probe: layer ", layer,
               " is out of range: the features have ", L, " layers (0..", L - 1, ")");
  const at::Device dev = detail::checked_device(cfg.device);  // clear error without a GPU
  const auto pick = [&](const ProbeFeatures& f) {
    at::Tensor x = layer == kWeightedLayers ? f.x : f.x.narrow(1, layer, 1);
    return x.to(dev, dtype);
  };
  at::Tensor xt = pick(data.train);
  const at::Tensor mean = xt.mean(0, true);
  const at::Tensor std = xt.std(0, /*unbiased=*/false, true);
  const at::Tensor scale = at::where(std > 1e-12, std, at::ones_like(std));
  const auto standardise = [&](const ProbeFeatures& f, const ProbeSplit& s) {
    Rows r;
    r.x = (pick(f) - mean) / scale;
    r.split = &s;
    r.clip = &f.clip;
    r.frame_rate = f.frame_rate;
    return r;
  };
  p.train = standardise(data.train, task.split("train"));
  p.valid = standardise(data.valid, task.split("valid"));
  p.test = standardise(data.test, task.split("test"));
  p.layers = p.train.x.size(1);
  p.dim = p.train.x.size(2);
  at::Tensor y = targets(task, *p.train.split, data.train.clip, data.train.frame_rate);
  if (task.type == ProbeTaskType::Regression) {
    p.y_mean = y.mean(0);
    const at::Tensor s = y.std(0, false);
    p.y_std = at::where(s > 1e-12, s, at::ones_like(s));
    y = (y - p.y_mean) / p.y_std;
    p.y_mean = p.y_mean.to(dev, dtype);
    p.y_std = p.y_std.to(dev, dtype);
  }
  at::Tensor yv = targets(task, *p.valid.split, data.valid.clip, data.valid.frame_rate);
  if (task.type == ProbeTaskType::Regression) yv = (yv.to(dev, dtype) - p.y_mean) / p.y_std;
  p.y = task.type == ProbeTaskType::Multiclass ? y.to(dev) : y.to(dev, dtype);
  p.y_valid = task.type == ProbeTaskType::Multiclass ? yv.to(dev) : yv.to(dev, dtype);
  return p;
}

// [N, L', H] -> [N, H]: the only layer, or the softmax(a)-weighted sum.
at::Tensor mix(const at::Tensor& x, const at::Tensor& a) {
  if (x.size(1) == 1) return x.select(1, 0);
  return at::matmul(x.transpose(1, 2), at::softmax(a, 0)).contiguous();
}

// Probe outputs for scoring: probabilities or regression values in the task's units.
at::Tensor to_outputs(const Problem& p, const at::Tensor& logits) {
  switch (p.task->type) {
    case ProbeTaskType::Multiclass:
      return at::softmax(logits, 1);
    case ProbeTaskType::Multilabel:
    case ProbeTaskType::Beat:
      return at::sigmoid(logits);
    case ProbeTaskType::Regression:
      return logits * p.y_std + p.y_mean;
  }
  return logits;
}

// Data loss of a batch; `sum_outputs`: summed over labels / targets (linear objectives) instead
// of averaged (MARBLE's BCEWithLogits / MSE).
at::Tensor data_loss(const Problem& p, const at::Tensor& logits, const at::Tensor& y,
                     bool sum_outputs) {
  const double k = sum_outputs ? double(p.outputs) : 1.0;
  switch (p.task->type) {
    case ProbeTaskType::Multiclass:
      return at::cross_entropy_loss(logits, y);
    case ProbeTaskType::Multilabel:
    case ProbeTaskType::Beat:
      return at::binary_cross_entropy_with_logits(logits, y) * k;
    case ProbeTaskType::Regression:
      return at::mse_loss(logits, y) * (sum_outputs ? 0.5 * k : 1.0);
  }
  return {};
}

double select_score(const Problem& p, const Rows& r, const at::Tensor& outputs,
                    std::map<std::string, double>* all) {
  const auto s = score_probe_outputs(*p.task, *r.split, outputs, *r.clip, r.frame_rate);
  if (all) *all = s;
  const double v = s.at(p.metric);
  return std::isnan(v) ? kNegInf : v;
}

}  // namespace probe_detail

namespace {
using namespace probe_detail;

// ---- MLP ------------------------------------------------------------------------------------

struct Mlp {
  detail::NamedTensors params;  // w1 [hidden, H], b1, w2 [C, hidden], b2, (a [L'])
  const at::Tensor& get(size_t i) const { return params[i].second; }
};

// torch.nn.Linear's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both.
Mlp init_mlp(const Problem& p, const ProbeConfig& cfg, at::Generator& gen) {
  const at::Device dev(cfg.device);
  const auto uniform = [&](std::vector<int64_t> shape, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(double(fan_in));
    return at::empty(shape, at::kFloat).uniform_(-bound, bound, gen).to(dev).requires_grad_(true);
  };
  Mlp m;
  m.params.emplace_back("w1", uniform({cfg.hidden, p.dim}, p.dim));
  m.params.emplace_back("b1", uniform({cfg.hidden}, p.dim));
  m.params.emplace_back("w2", uniform({p.outputs, cfg.hidden}, cfg.hidden));
  m.params.emplace_back("b2", uniform({p.outputs}, cfg.hidden));
  if (p.layers > 1)
    m.params.emplace_back("a", at::zeros({p.layers}, at::TensorOptions(dev)).requires_grad_(true));
  return m;
}

at::Tensor mlp_logits(const Mlp& m, const at::Tensor& x, const at::Tensor& dropout_mask) {
  const at::Tensor a = m.params.size() > 4 ? m.get(4) : at::Tensor();
  at::Tensor h = at::relu(at::linear(mix(x, a), m.get(0), m.get(1)));
  if (dropout_mask.defined()) h = h * dropout_mask;
  return at::linear(h, m.get(2), m.get(3));
}

at::Tensor mlp_eval_logits(const Mlp& m, const Rows& r) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t s = 0; s < r.x.size(0); s += 4096)
    parts.push_back(mlp_logits(m, r.x.narrow(0, s, std::min<int64_t>(4096, r.x.size(0) - s)), {}));
  return at::cat(parts, 0);
}

at::Tensor mlp_outputs(const Problem& p, const Mlp& m, const Rows& r) {
  return to_outputs(p, mlp_eval_logits(m, r));
}

struct MlpRun {
  double best = kNegInf;
  double best_loss = std::numeric_limits<double>::infinity();  // validation loss at `best`
  std::vector<at::Tensor> weights;                             // best-validation parameters
  int epochs = 0;
};

// A better validation score, or the same score with a lower validation loss (ties are common
// with accuracy on small validation splits; the loss breaks them).
bool better(double score, double loss, double best_score, double best_loss) {
  return score > best_score || (score == best_score && loss < best_loss);
}

// Rows of each clip (frame rows of beat tasks, windows): batches are groups of whole clips.
std::vector<at::Tensor> rows_by_clip(const Rows& r) {
  std::vector<at::Tensor> out;
  std::vector<int64_t> cur;
  for (size_t i = 0; i < r.clip->size(); ++i) {
    if (i > 0 && (*r.clip)[i] != (*r.clip)[i - 1]) {
      out.push_back(at::tensor(cur, at::kLong));
      cur.clear();
    }
    cur.push_back(int64_t(i));
  }
  if (!cur.empty()) out.push_back(at::tensor(cur, at::kLong));
  return out;
}

MlpRun train_mlp(const Problem& p, const ProbeConfig& cfg, double lr) {
  at::Generator gen = at::detail::createCPUGenerator(cfg.seed);
  Mlp m = init_mlp(p, cfg, gen);
  detail::AdamWOptions adam;  // torch.optim.Adam defaults, no weight decay (MARBLE)
  adam.weight_decay = 0.0;
  detail::AdamW opt(adam, m.params);
  const at::Device dev(cfg.device);
  // Frame rows (beat tasks) are batched by clip: batch_size clips of frames per step, as
  // MARBLE batches sequences; other rows batch_size at a time.
  const bool by_clip = p.train.frame_rate > 0;
  const std::vector<at::Tensor> clip_rows =
      by_clip ? rows_by_clip(p.train) : std::vector<at::Tensor>{};
  const int64_t n = by_clip ? int64_t(clip_rows.size()) : p.train.x.size(0);
  MlpRun run;
  double sched_best = kNegInf, cur_lr = lr;
  int sched_bad = 0, wait = 0;
  for (int epoch = 1; epoch <= cfg.max_epochs; ++epoch) {
    const at::Tensor perm = at::randperm(n, gen, at::kLong).to(dev);
    for (int64_t s = 0; s < n; s += cfg.batch_size) {
      at::Tensor idx = perm.narrow(0, s, std::min<int64_t>(cfg.batch_size, n - s));
      if (by_clip) {
        std::vector<at::Tensor> parts;
        const at::Tensor picked = idx.to(at::kCPU).contiguous();
        for (int64_t k = 0; k < picked.numel(); ++k)
          parts.push_back(clip_rows[size_t(picked.data_ptr<int64_t>()[k])]);
        idx = at::cat(parts).to(dev);
      }
      at::Tensor mask;
      if (cfg.dropout > 0) {
        mask = at::empty({idx.size(0), cfg.hidden}, at::kFloat)
                   .bernoulli_(1.0 - cfg.dropout, gen)
                   .div_(1.0 - cfg.dropout)
                   .to(dev);
      }
      at::AutoGradMode grad_on(true);
      const at::Tensor loss = data_loss(p, mlp_logits(m, p.train.x.index_select(0, idx), mask),
                                        p.y.index_select(0, idx), false);
      loss.backward();
      opt.step(cur_lr);
      for (auto& [name, t] : m.params) t.mutable_grad().zero_();
    }
    const at::Tensor logits = mlp_eval_logits(m, p.valid);
    const double v = select_score(p, p.valid, to_outputs(p, logits));
    const double vloss = data_loss(p, logits, p.y_valid, false).item<double>();
    run.epochs = epoch;
    wait = v > run.best ? 0 : wait + 1;  // early stopping on the metric alone (MARBLE)
    if (better(v, vloss, run.best, run.best_loss) || run.weights.empty()) {
      run.best = v;
      run.best_loss = vloss;
      run.weights.clear();
      for (const auto& [name, t] : m.params) run.weights.push_back(t.detach().clone());
    }
    // torch ReduceLROnPlateau(mode="max", threshold=1e-4 "rel", cooldown 0, eps 1e-8)
    if (v > sched_best * (1.0 + 1e-4)) {
      sched_best = v, sched_bad = 0;
    } else if (++sched_bad > cfg.lr_patience) {
      if (cur_lr - cur_lr * cfg.lr_factor > 1e-8) cur_lr *= cfg.lr_factor;
      sched_bad = 0;
    }
    if (wait >= cfg.early_stop_patience) break;
  }
  return run;
}

ProbeScores run_mlp(const Problem& p, const ProbeConfig& cfg) {
  MlpRun best;
  double best_lr = cfg.lr_grid.front();
  for (double lr : cfg.lr_grid) {
    MlpRun r = train_mlp(p, cfg, lr);
    if (better(r.best, r.best_loss, best.best, best.best_loss) || best.weights.empty())
      best = std::move(r), best_lr = lr;
  }
  at::Generator gen = at::detail::createCPUGenerator(cfg.seed);
  Mlp m = init_mlp(p, cfg, gen);
  {
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < m.params.size(); ++i) m.params[i].second.copy_(best.weights[i]);
  }
  ProbeScores out;
  select_score(p, p.valid, mlp_outputs(p, m, p.valid), &out.valid);
  select_score(p, p.test, mlp_outputs(p, m, p.test), &out.test);
  std::ostringstream sel;
  sel << "lr=" << best_lr;
  out.selected = sel.str();
  out.epochs = best.epochs;
  if (p.layers > 1) {
    const at::Tensor w = at::softmax(m.get(4).detach(), 0).to(at::kCPU, at::kDouble).contiguous();
    out.layer_weights.assign(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
  }
  return out;
}

void check_dataset(const ProbeTask& task, const ProbeDataset& d) {
  const char* names[] = {"train", "valid", "test"};
  const ProbeFeatures* f[] = {&d.train, &d.valid, &d.test};
  for (int i = 0; i < 3; ++i) {
    MUSEFM_CHECK(f[i]->x.defined() && f[i]->x.dim() == 3 && f[i]->x.size(0) >= 1,
                 "probe: ", task.name, "/", names[i],
                 ": features must be a non-empty [N, L, H] tensor");
    MUSEFM_CHECK(int64_t(f[i]->clip.size()) == f[i]->x.size(0), "probe: ", task.name, "/", names[i],
                 ": one clip index per feature row is needed");
    MUSEFM_CHECK(f[i]->x.size(1) == d.train.x.size(1) && f[i]->x.size(2) == d.train.x.size(2),
                 "probe: ", task.name, "/", names[i], ": features ", f[i]->x.sizes(),
                 " do not match train ", d.train.x.sizes());
    MUSEFM_CHECK(f[i]->num_clips == int64_t(task.split(names[i]).items.size()),
                 "probe: ", task.name, "/", names[i], ": features of ", f[i]->num_clips,
                 " clips, the split has ", task.split(names[i]).items.size());
    std::vector<char> seen(size_t(f[i]->num_clips), 0);
    for (int64_t c : f[i]->clip) {
      MUSEFM_CHECK(c >= 0 && c < f[i]->num_clips, "probe: ", task.name, "/", names[i],
                   ": clip index ", c, " out of range [0, ", f[i]->num_clips, ")");
      seen[size_t(c)] = 1;
    }
    for (int64_t c = 0; c < f[i]->num_clips; ++c)
      MUSEFM_CHECK(seen[size_t(c)] || f[i]->failed.count(c), "probe: ", task.name, "/", names[i],
                   ": clip ", c, " has no feature row and is not listed as failed");
    MUSEFM_CHECK((task.type == ProbeTaskType::Beat) == (f[i]->frame_rate > 0), "probe: ", task.name,
                 "/", names[i],
                 task.type == ProbeTaskType::Beat
                     ? ": a beat task needs frame rows (features with a frame rate)"
                     : ": frame rows are for beat tasks only");
  }
}
}  // namespace

ProbeScores run_probe(const ProbeTask& task, const ProbeDataset& data, int layer,
                      const ProbeConfig& config) {
  config.validate();
  check_dataset(task, data);
  const bool linear = config.probe == ProbeKind::Linear;
  const Problem p = make_problem(task, data, layer, config, linear ? at::kDouble : at::kFloat);
  return linear ? run_linear(p, config) : run_mlp(p, config);
}

namespace {
// Beat times from one clip's frame activations: local maxima within +-kPeakS that reach half
// of the clip's largest activation (a calibration-free rule; the first of equal maxima wins).
constexpr double kPeakS = 0.1;  // 300 BPM at most
std::vector<double> pick_beats(const double* a, int64_t n, double rate) {
  std::vector<double> out;
  if (n == 0) return out;
  const double top = *std::max_element(a, a + n);
  if (!(top > 0)) return out;
  const int64_t w = std::max<int64_t>(1, std::llround(kPeakS * rate));
  for (int64_t k = 0; k < n; ++k) {
    if (a[k] < 0.5 * top) continue;
    bool peak = true;
    for (int64_t j = std::max<int64_t>(0, k - w); j <= std::min(n - 1, k + w) && peak; ++j)
      peak = j < k ? a[j] < a[k] : a[j] <= a[k];
    if (peak) out.push_back(double(k) / rate);
  }
  return out;
}

// Mean beat F-measure over clips: rows of a clip are its frames in order.
double beat_score(const ProbeSplit& split, const at::Tensor& outputs,
                  const std::vector<int64_t>& clip, double rate) {
  MUSEFM_CHECK(rate > 0, "score_probe_outputs: a beat task needs frame rows (frame_rate > 0)");
  const at::Tensor o = outputs.to(at::kCPU, at::kDouble).contiguous();
  const double* a = o.data_ptr<double>();
  double sum = 0.0;
  int64_t clips = 0;
  std::vector<char> seen(split.items.size(), 0);
  for (size_t i = 0; i < clip.size();) {
    size_t j = i;
    while (j < clip.size() && clip[j] == clip[i]) ++j;
    MUSEFM_CHECK(!seen[size_t(clip[i])], "score_probe_outputs: the frames of clip ", clip[i],
                 " of ", split.file, " are not consecutive");
    seen[size_t(clip[i])] = 1;
    sum += beat_f_measure(split.items[size_t(clip[i])].values,
                          pick_beats(a + i, int64_t(j - i), rate));
    ++clips;
    i = j;
  }
  MUSEFM_CHECK(clips > 0, "score_probe_outputs: no clip of ", split.file, " has a row");
  return sum / double(clips);
}
}  // namespace

std::map<std::string, double> score_probe_outputs(const ProbeTask& task, const ProbeSplit& split,
                                                  const at::Tensor& outputs,
                                                  const std::vector<int64_t>& clip,
                                                  double frame_rate) {
  int64_t n = int64_t(split.items.size());
  const int64_t c = task.num_outputs();
  MUSEFM_CHECK(
      outputs.dim() == 2 && outputs.size(0) == int64_t(clip.size()) && outputs.size(1) == c,
      "score_probe_outputs: outputs must be [", clip.size(), ", ", c, "], got ", outputs.sizes());
  const at::Tensor idx = at::tensor(clip, at::kLong);
  MUSEFM_CHECK(clip.empty() || (idx.min().item<int64_t>() >= 0 && idx.max().item<int64_t>() < n),
               "score_probe_outputs: clip index out of range [0, ", n, ")");
  if (task.type == ProbeTaskType::Beat) {
    std::map<std::string, double> out;
    for (const auto& m : task.metrics)
      if (m == "beat_f1") out[m] = beat_score(split, outputs, clip, frame_rate);
    return out;
  }
  at::Tensor sum =
      at::zeros({n, c}, at::kDouble).index_add_(0, idx, outputs.to(at::kCPU, at::kDouble));
  const at::Tensor count =
      at::zeros({n}, at::kDouble).index_add_(0, idx, at::ones({idx.size(0)}, at::kDouble));
  // Clips without a row (left out by feature extraction) are not scored.
  const at::Tensor kept = count.gt(0).nonzero().squeeze(1);
  MUSEFM_CHECK(kept.numel() > 0, "score_probe_outputs: no clip of ", split.file, " has a row");
  const at::Tensor mean =
      (sum.index_select(0, kept) / count.index_select(0, kept).unsqueeze(1)).contiguous();
  const at::Tensor kept_c = kept.contiguous();
  const std::vector<int64_t> clips(kept_c.data_ptr<int64_t>(),
                                   kept_c.data_ptr<int64_t>() + kept_c.numel());
  const auto item = [&](int64_t i) -> const ProbeItem& {
    return split.items[size_t(clips[size_t(i)])];
  };
  n = int64_t(clips.size());
  const auto a = mean.accessor<double, 2>();
  std::vector<std::vector<double>> scores(static_cast<size_t>(n),
                                          std::vector<double>(static_cast<size_t>(c)));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) scores[size_t(i)][size_t(k)] = a[i][k];
  std::map<std::string, double> out;
  if (task.type == ProbeTaskType::Multiclass) {
    std::vector<int> truth, pred;
    const at::Tensor am = mean.argmax(1).contiguous();
    const int64_t* best = am.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      truth.push_back(item(i).classes[0]);
      pred.push_back(int(best[i]));
    }
    for (const auto& m : task.metrics) {
      if (m == "accuracy") out[m] = accuracy(truth, pred);
      if (m == "macro_f1") out[m] = macro_f1(truth, pred, int(c));
      if (m == "roc_auc") out[m] = roc_auc_ovr_macro(truth, scores).value;
      if (m == "mirex_key") {
        std::vector<int> kt, kp;
        for (int64_t i = 0; i < n; ++i) {
          kt.push_back(key_index(task.labels[size_t(truth[size_t(i)])]));
          kp.push_back(key_index(task.labels[size_t(pred[size_t(i)])]));
        }
        out[m] = mirex_key_accuracy(kt, kp);
      }
    }
  } else if (task.type == ProbeTaskType::Multilabel) {
    std::vector<std::vector<int>> truth(size_t(n), std::vector<int>(size_t(c), 0));
    for (int64_t i = 0; i < n; ++i)
      for (int k : item(i).classes) truth[size_t(i)][size_t(k)] = 1;
    for (const auto& m : task.metrics) {
      if (m == "roc_auc") out[m] = roc_auc_macro(truth, scores).value;
      if (m == "pr_auc") out[m] = pr_auc_macro(truth, scores).value;
    }
  } else {
    std::vector<std::vector<double>> truth;
    for (int64_t i = 0; i < n; ++i) truth.push_back(item(i).values);
    for (const auto& m : task.metrics)
      if (m == "r2") out[m] = r2_score(truth, scores);
  }
  return out;
}

}  // namespace musefm
