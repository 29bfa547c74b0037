// Pretrainer: the training loop — plan-driven micro-batches, loss scaled by global counts,
// bucketed gradient all-reduce, clipping, the non-finite guard, AdamW, JSONL log, validation,
// atomic checkpoints and exact resume.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/device.h"
#include "io/atomic_file.h"
#include "model/family.h"
#include "model/weights.h"
#include "musefm/safetensors.h"
#include "musefm/train.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/model.h"
#include "train/optim.h"

namespace musefm {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace train_detail;

namespace {
std::atomic<bool> g_stop_requested{false};

json record_json(const StepRecord& r) {
  return {{"step", r.step},
          {"epoch", r.epoch},
          {"lr", r.lr},
          {"loss", r.loss},
          {"losses", r.losses},
          {"accuracy", r.accuracy},
          {"grad_norm", r.grad_norm},
          {"samples_per_s", r.samples_per_s},
          {"tokens_per_s", r.tokens_per_s},
          {"masked_frames", r.masked_frames},
          {"samples", r.samples},
          {"skipped", r.skipped},
          {"time_s", r.elapsed_s}};
}

// The parts of a config that a resumed run must share with its checkpoint.
json identity(const std::string& config_json) {
  json j = json::parse(config_json);
  json d = j["data"];
  for (const char* k : {"manifest_dir", "labels_dir", "loader_threads", "prefetch",
                        "audio_cache_mb", "valid_split"})
    d.erase(k);
  return {{"model", j["model"]}, {"objective", j["objective"]}, {"data", d}};
}

// bf16 autocast on CUDA for the scope (precision "auto" / "bf16" on a GPU).
struct AutocastScope {
  bool on;
  explicit AutocastScope(bool enable) : on(enable) {
    if (!on) return;
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, false);
  }
};
}  // namespace

std::string StepRecord::to_json() const { return record_json(*this).dump(); }

struct Pretrainer::Impl {
  PretrainConfig config;
  std::string out_dir, ckpt_dir, config_json;
  std::shared_ptr<Collective> group;       ///< control plane (gloo, CPU tensors)
  std::shared_ptr<Collective> grad_group;  ///< gradients: NCCL on GPUs when built, else `group`
  at::Device device{at::kCPU};
  bool autocast = false;
  Split train, valid;
  bool has_valid = false;
  std::unique_ptr<BatchPlanner> planner, valid_planner;
  std::unique_ptr<PretrainModel> model;
  std::unique_ptr<AdamW> adam;
  RunState state;
  std::ofstream log;

  bool rank0() const { return group->rank() == 0; }

  // The update's loss normalisers (masked frames, conv feature elements) and its size.
  LossScale loss_scale(const Update& u, int64_t& samples, int64_t& frames) const {
    LossScale scale{0, 0};
    for (const MicroBatch& p : u.plans) {
      scale.masked += double(p.masked);
      scale.feature_elems +=
          double(p.items.size()) * double(planner->frames_for(p.crop)) * model->conv_channels();
      samples += int64_t(p.items.size()) * p.crop;
      frames += int64_t(p.items.size()) * p.frames;
    }
    scale.masked = std::max(scale.masked, 1.0);
    scale.feature_elems = std::max(scale.feature_elems, 1.0);
    return scale;
  }

  // Forward + backward of this rank's micro-batches; returns the summed loss terms and counts
  // the non-finite losses. Every parameter ends with a gradient (zeros when unused here).
  at::Tensor backward(Update& u, const LossScale& scale, size_t num_sums, int64_t& bad_losses) {
    for (auto& [n, p] : model->params()) p.mutable_grad() = at::Tensor();  // set to none
    at::Tensor sums = at::zeros({int64_t(num_sums)}, at::kDouble);
    for (size_t k = 0; k < u.batches.size(); ++k) {
      Batch& b = u.batches[k];
      for (const auto& f : b.failures) {  // trained as silence; rank 0 logs, others warn
        write_log({{"event", "unreadable"}, {"step", state.step}, {"item", f}});
        if (!rank0())
          std::fprintf(stderr, "musefm pretrain (rank %d): unreadable, trained as silence: %s\n",
                       group->rank(), f.c_str());
      }
      // Dropout draws depend on the micro-batch's place in the update, not on the rank.
      at::manual_seed(mix_seed(config.run.seed, {7, uint64_t(state.step), uint64_t(u.mine[k])}));
      at::Tensor loss;
      LossSums s;
      {
        AutocastScope ac(autocast);
        std::tie(loss, s) =
            model->forward(b.audio, b.clean, b.targets, b.mask, scale, /*training=*/true);
      }
      if (!std::isfinite(loss.item<double>())) ++bad_losses;  // e.g. an overflowing target
      loss.backward();
      sums += s.values;
    }
    for (auto& [n, p] : model->params())  // no micro-batch on this rank, or an unused tensor
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    return sums;
  }

  // DDP's broadcast_buffers: rank 0's BatchNorm running statistics everywhere.
  void broadcast_buffers() {
    if (model->buffers().empty() || group->world_size() <= 1) return;
    std::vector<at::Tensor> parts;
    for (auto& [n, t] : model->buffers()) parts.push_back(t.cpu().reshape({-1}));
    std::vector<at::Tensor> flat{at::cat(parts)};
    group->broadcast(flat, 0);
    int64_t at = 0;
    for (auto& [n, t] : model->buffers()) {
      t.copy_(flat[0].narrow(0, at, t.numel()).view(t.sizes()));
      at += t.numel();
    }
  }

  // Per-codebook losses and accuracies, the CQT and feature-penalty terms and the total, from
  // the all-reduced sums `s` (cross-entropy per codebook, accuracy per codebook, cqt, pen).
  void fill_losses(StepRecord& r, const double* s, const LossScale& scale) const {
    const auto& c = config;
    const size_t C = c.data.labels.size();
    double ce = 0;
    for (size_t i = 0; i < C; ++i) {
      r.losses[c.data.labels[i]] = s[i] / scale.masked;
      r.accuracy[c.data.labels[i]] = s[C + i] / scale.masked;
      ce += s[i];
    }
    if (c.objective.cqt_weight > 0) r.losses["cqt"] = s[2 * C] / scale.masked;
    if (model_detail::family_for(c.model).feature_tap())
      r.losses["features_pen"] = s[2 * C + 1] / scale.feature_elems;
    r.loss = (ce + c.objective.cqt_weight * s[2 * C]) / scale.masked +
             c.objective.feature_pen_weight * s[2 * C + 1] / scale.feature_elems;
    r.masked_frames = int64_t(scale.masked);
  }

  void write_log(const json& j) {
    if (!rank0()) return;
    log << j.dump() << "\n";
    log.flush();
  }

  // Sums gradients over ranks, bucket by bucket (reverse parameter order, like DDP).
  void all_reduce_gradients() {
    if (group->world_size() == 1) return;
    const double limit = config.run.bucket_mb * 1024 * 1024;
    std::vector<at::Tensor> bucket;
    double bytes = 0;
    auto flush = [&] {
      if (bucket.empty()) return;
      if (device.is_cpu() || grad_group->reduces_cuda()) {
        grad_group->all_reduce_sum(bucket);
      } else {  // gloo reduces CPU tensors: stage through host memory
        std::vector<at::Tensor> host;
        for (auto& g : bucket) host.push_back(g.cpu());
        grad_group->all_reduce_sum(host);
        for (size_t i = 0; i < bucket.size(); ++i) bucket[i].copy_(host[i]);
      }
      bucket.clear();
      bytes = 0;
    };
    auto& params = model->params();
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      bucket.push_back(it->second.mutable_grad());
      bytes += double(it->second.numel()) * 4;
      if (bytes >= limit) flush();
    }
    flush();
  }

  void save() {
    if (!rank0()) return;
    Named tensors;
    for (const auto& [n, t] : model->params()) tensors.emplace_back("param/" + n, t);
    for (const auto& [n, t] : model->buffers()) tensors.emplace_back("buffer/" + n, t);
    for (const auto& [n, t] : adam->state()) tensors.emplace_back(n, t);
    const std::string path = save_checkpoint(ckpt_dir, state, config_json, tensors);
    prune_checkpoints(ckpt_dir, config.run.keep_last);
    write_log({{"event", "checkpoint"}, {"step", state.step}, {"path", path}});
  }

  void resume(const std::string& path) {
    Checkpoint ck = load_checkpoint(path);
    const json mine = identity(config_json), theirs = identity(ck.config_json);
    if (mine != theirs) {
      std::string diff;
      for (const char* sec : {"model", "objective", "data"})
        for (auto it = mine[sec].begin(); it != mine[sec].end(); ++it)
          if (!theirs[sec].contains(it.key()) || theirs[sec][it.key()] != it.value())
            diff += std::string(diff.empty() ? "" : ", ") + sec + "." + it.key();
      MUSEFM_FAIL("pretrain: '", path, "' was written with a different config (", diff,
                  "); use a new output folder, or --overwrite to start again");
    }
    at::NoGradGuard no_grad;
    for (auto& [n, t] : model->params()) {
      auto it = ck.tensors.find("param/" + n);
      MUSEFM_CHECK(it != ck.tensors.end() && it->second.sizes() == t.sizes(), "checkpoint '", path,
                   "': parameter '", n, "' is missing or mis-shaped");
      t.copy_(it->second);
    }
    for (auto& [n, t] : model->buffers()) {
      auto it = ck.tensors.find("buffer/" + n);
      MUSEFM_CHECK(it != ck.tensors.end(), "checkpoint '", path, "': buffer '", n, "' is missing");
      t.copy_(it->second);
    }
    adam->load_state(ck.tensors, ck.state.step);
    state = ck.state;
    state.world_size = group->world_size();
    write_log({{"event", "resume"}, {"step", state.step}, {"path", path}});
  }

  // Loss sums of the validation micro-batches (no gradients, no mixup).
  ValidRecord validate() {
    ValidRecord r;
    r.step = state.step;
    PretrainConfig vc = config;
    vc.data.mixup_prob = 0;
    Loader loader(vc, valid, *valid_planner, group->rank(), group->world_size(), 1, 0, 0);
    const auto names = model->sum_names();
    at::Tensor sums = at::zeros({int64_t(names.size())}, at::kDouble);
    double masked = 0, elems = 0;
    // valid_batches micro-batches from the start of the split (its epochs repeat with other
    // crops and masks): the same ones at every validation, so the figures compare.
    const int64_t updates = std::max<int64_t>(1, config.run.valid_batches / group->world_size());
    at::NoGradGuard no_grad;
    for (int64_t i = 0; i < updates; ++i) {
      Update u = loader.next();
      for (const MicroBatch& p : u.plans) {
        masked += double(p.masked);
        elems += double(p.items.size()) * double(planner->frames_for(p.crop)) *
                 double(model->conv_channels());
      }
      for (Batch& b : u.batches) {
        AutocastScope ac(autocast);
        sums +=
            model->forward(b.audio, b.clean, b.targets, b.mask, LossScale{}, false).second.values;
      }
    }
    std::vector<at::Tensor> t{sums};
    group->all_reduce_sum(t);
    const auto* s = sums.data_ptr<double>();
    const size_t C = config.data.labels.size();
    const auto& o = config.objective;
    double loss = 0;
    for (size_t i = 0; i < C; ++i) {
      loss += s[i];
      r.accuracy[config.data.labels[i]] = masked > 0 ? s[C + i] / masked : 0;
    }
    loss = (loss + o.cqt_weight * s[2 * C]) / std::max(masked, 1.0) +
           o.feature_pen_weight * s[2 * C + 1] / std::max(elems, 1.0);
    r.loss = loss;
    write_log({{"step", r.step}, {"valid", {{"loss", r.loss}, {"accuracy", r.accuracy}}}});
    return r;
  }
};

Pretrainer::Pretrainer(const PretrainConfig& config, const std::string& out_dir,
                       std::shared_ptr<Collective> group)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  config.validate();
  m.config = config;
  m.group = group ? group : Collective::single();
  m.out_dir = out_dir;
  m.ckpt_dir = (fs::path(out_dir) / "checkpoints").string();
  std::string dev = config.run.device;
  if (dev == "cuda") dev = "cuda:" + std::to_string(RendezvousConfig::from_env().local_rank);
  m.device = detail::checked_device(dev);
  m.autocast = m.device.is_cuda() && config.run.precision != TrainPrecision::Fp32;
  m.grad_group = m.group;
  if (m.device.is_cuda() && m.group->world_size() > 1 &&
      config.run.gradient_backend == GradientBackend::Auto && Collective::nccl_available())
    m.grad_group = Collective::nccl(RendezvousConfig::from_env(), m.device.index());
  MUSEFM_CHECK(!(m.device.is_cpu() && config.run.precision == TrainPrecision::Bf16),
               "pretrain: run.precision \"bf16\" needs a CUDA device (CPU training runs in fp32)");
  m.train = open_split(m.config, config.data.train_split, *m.group);
  m.has_valid = !config.data.valid_split.empty();
  if (m.has_valid) m.valid = open_split(m.config, config.data.valid_split, *m.group);
  std::vector<int64_t> k;
  for (const auto& l : m.train.labels) k.push_back(l.codebook_size());
  if (m.has_valid)
    for (size_t i = 0; i < k.size(); ++i)
      MUSEFM_CHECK(m.valid.labels[i].codebook_size() == k[i], "pretrain: label set '",
                   config.data.labels[i], "' has ", k[i], " classes in split '",
                   config.data.train_split, "' but ", m.valid.labels[i].codebook_size(), " in '",
                   config.data.valid_split, "'");
  m.planner = std::make_unique<BatchPlanner>(m.config, m.train);
  if (m.has_valid) m.valid_planner = std::make_unique<BatchPlanner>(m.config, m.valid);
  m.model = std::make_unique<PretrainModel>(m.config, k, m.device);
  m.model->init(config.run.seed);
  m.adam = std::make_unique<AdamW>(adamw_options(config.optim), m.model->params());
  m.config_json = m.config.to_json();
  m.state.world_size = m.group->world_size();
  if (m.rank0()) {
    fs::create_directories(m.ckpt_dir);
    for (const auto& e : fs::directory_iterator(m.ckpt_dir))  // a killed writer's temporaries
      if (e.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(e.path());
    m.log.open((fs::path(out_dir) / "train.jsonl").string(), std::ios::app);
    MUSEFM_CHECK(m.log.good(), "pretrain: cannot write '", out_dir, "/train.jsonl'");
    std::ofstream cfg((fs::path(out_dir) / "config.json").string());
    cfg << m.config_json << "\n";
    if (!m.train.left_out.empty()) {
      std::ofstream f((fs::path(out_dir) / "failures.jsonl").string(), std::ios::app);
      for (const auto& [i, why] : m.train.left_out)
        f << json{{"split", m.train.name},
                  {"path", m.train.entries[size_t(i)].path},
                  {"left_out", why}}
                 .dump()
          << "\n";
    }
  }
  m.group->barrier();
  const std::string last = latest_checkpoint(m.ckpt_dir);
  if (!last.empty()) m.resume(last);
}

Pretrainer::~Pretrainer() = default;

int64_t Pretrainer::next_step() const { return impl_->state.step; }

void Pretrainer::request_stop() { g_stop_requested = true; }

PretrainResult Pretrainer::run(const std::function<void(const StepRecord&)>& on_step) {
  Impl& m = *impl_;
  const auto& c = m.config;
  g_stop_requested = false;  // a request from an earlier run() does not stop this one
  PretrainResult result;
  result.first_step = m.state.step;
  result.max_steps = c.optim.max_steps;
  result.out_dir = m.out_dir;
  result.skipped_items = int64_t(m.train.left_out.size());
  Loader loader(c, m.train, *m.planner, m.group->rank(), m.group->world_size(), c.optim.accumulate,
                m.state.epoch, m.state.index);
  const auto names = m.model->sum_names();
  const auto t0 = std::chrono::steady_clock::now();
  const double elapsed0 = m.state.elapsed_s;
  int64_t consecutive_skips = 0;
  bool stop = false;
  while (m.state.step < c.optim.max_steps && !stop) {
    const auto step_start = std::chrono::steady_clock::now();
    Update u = loader.next();
    int64_t samples = 0, frames = 0;
    const LossScale scale = m.loss_scale(u, samples, frames);
    int64_t bad_losses = 0;
    const at::Tensor sums = m.backward(u, scale, names.size(), bad_losses);
    m.all_reduce_gradients();
    // Logging sums, non-finite losses and the stop flag travel together.
    at::Tensor extra = at::cat({sums, at::tensor({double(bad_losses)}, at::kDouble),
                                at::tensor({g_stop_requested.load() ? 1.0 : 0.0}, at::kDouble)});
    if (c.run.max_seconds > 0 &&
        elapsed0 + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >=
            c.run.max_seconds)
      extra[-1] = 1.0;
    std::vector<at::Tensor> ex{extra};
    m.group->all_reduce_sum(ex);
    stop = extra[-1].item<double>() > 0;
    const bool finite_loss = extra[-2].item<double>() == 0;
    const double norm = gradient_norm(m.model->params());
    StepRecord r;
    r.step = m.state.step + 1;
    r.max_steps = c.optim.max_steps;
    r.epoch = loader.position().first;
    r.lr = learning_rate(c.optim, r.step);
    r.grad_norm = norm;
    if (!std::isfinite(norm) || !finite_loss) {
      r.skipped = true;
      ++m.state.skipped_steps;
      MUSEFM_CHECK(++consecutive_skips < c.optim.max_skipped_steps, "pretrain: ", consecutive_skips,
                   " updates in a row had a non-finite loss or gradient (step ", r.step,
                   "); lower optim.lr or check the data. The last checkpoint is intact.");
    } else {
      consecutive_skips = 0;
      if (c.optim.clip_norm > 0 && norm > c.optim.clip_norm)
        scale_gradients(m.model->params(), c.optim.clip_norm / (norm + 1e-6));
      m.adam->step(r.lr);
    }
    m.broadcast_buffers();
    m.state.step = r.step;
    std::tie(m.state.epoch, m.state.index) = loader.position();
    const double dt =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    m.state.elapsed_s =
        elapsed0 + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.fill_losses(r, extra.data_ptr<double>(), scale);
    r.samples = samples;
    r.samples_per_s = double(samples) / c.model.sample_rate / dt;
    r.tokens_per_s = double(frames) / dt;
    r.elapsed_s = m.state.elapsed_s;
    m.write_log(record_json(r));
    result.last = r;
    if (m.rank0() && on_step) on_step(r);
    const bool last = m.state.step == c.optim.max_steps || stop;
    if (m.has_valid && ((c.run.valid_every > 0 && m.state.step % c.run.valid_every == 0) || last))
      result.valid.push_back(m.validate());
    if (m.state.step % c.run.checkpoint_every == 0 || last) m.save();
  }
  m.group->barrier();
  result.last_step = m.state.step;
  result.last_checkpoint = latest_checkpoint(m.ckpt_dir);
  return result;
}

std::string export_checkpoint(const std::string& path, const std::string& model_dir) {
  std::string checkpoint_path = path;
  if (fs::is_directory(path)) {
    checkpoint_path = latest_checkpoint(path);
    MUSEFM_CHECK(!checkpoint_path.empty(), "export: no checkpoint (step-*.safetensors) in '", path,
                 "'");
  }
  Checkpoint ck = load_checkpoint(checkpoint_path);
  PretrainConfig c = PretrainConfig::from_json(ck.config_json);
  std::vector<int64_t> k;
  if (c.objective.prediction == Prediction::Cosine) {
    // label_embs_concat rows are split per codebook; sizes are not needed for the encoder.
    k.assign(c.data.labels.size(), 1);
    const auto it = ck.tensors.find("param/label_embs_concat");
    MUSEFM_CHECK(it != ck.tensors.end(), "checkpoint '", checkpoint_path,
                 "': param/label_embs_concat is missing");
    k[0] = it->second.size(0) - int64_t(k.size()) + 1;
  } else {
    for (size_t i = 0; i < c.data.labels.size(); ++i) {
      const std::string n = c.data.labels.size() == 1
                                ? "param/linear.weight"
                                : "param/linear_" + std::to_string(i) + ".weight";
      const auto it = ck.tensors.find(n);
      MUSEFM_CHECK(it != ck.tensors.end(), "checkpoint '", checkpoint_path, "': ", n,
                   " is missing");
      k.push_back(it->second.size(0));
    }
  }
  PretrainModel model(c, k, at::Device(at::kCPU));
  {
    at::NoGradGuard no_grad;
    for (auto& [n, t] : model.params()) {
      auto it = ck.tensors.find("param/" + n);
      MUSEFM_CHECK(it != ck.tensors.end() && it->second.sizes() == t.sizes(), "checkpoint '",
                   checkpoint_path, "': parameter '", n, "' is missing or mis-shaped");
      t.copy_(it->second);
    }
    for (auto& [n, t] : model.buffers()) {
      auto it = ck.tensors.find("buffer/" + n);
      MUSEFM_CHECK(it != ck.tensors.end(), "checkpoint '", checkpoint_path, "': buffer '", n,
                   "' is missing");
      t.copy_(it->second);
    }
  }
  const model_detail::Weights w = model.encoder_weights();
  fs::create_directories(model_dir);
  std::vector<std::pair<std::string, at::Tensor>> tensors(w.begin(), w.end());
  save_safetensors((fs::path(model_dir) / "model.safetensors").string(), tensors,
                   {{"format", "pt"},
                    {"source", "musefm pretrain"},
                    {"checkpoint", fs::path(checkpoint_path).filename().string()}});
  const std::string config = c.model.to_json() + "\n";
  io_detail::AtomicFile out((fs::path(model_dir) / "config.json").string());
  out.write(config.data(), config.size());
  out.commit();
  return checkpoint_path;
}

}  // namespace musefm
