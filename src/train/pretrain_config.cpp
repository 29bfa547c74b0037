// PretrainConfig: validation and strict JSON round-trip (sections data / objective / optim /
// run, the model inline or as a path), plus "section.key=value" overrides from the CLI.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_fields.h"
#include "musefm/train.h"

namespace musefm {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

json data_json(const PretrainDataConfig& d) {
  return {{"manifest_dir", d.manifest_dir},
          {"labels_dir", d.labels_dir},
          {"train_split", d.train_split},
          {"valid_split", d.valid_split},
          {"labels", d.labels},
          {"label_rate", d.label_rate},
          {"label_tolerance_s", d.label_tolerance_s},
          {"max_sample_size", d.max_sample_size},
          {"min_sample_size", d.min_sample_size},
          {"max_tokens", d.max_tokens},
          {"max_batch_items", d.max_batch_items},
          {"mixup_prob", d.mixup_prob},
          {"mixup_max_segments", d.mixup_max_segments},
          {"mixup_min_length", d.mixup_min_length},
          {"mixup_max_length", d.mixup_max_length},
          {"mixup_volume", d.mixup_volume},
          {"loader_threads", d.loader_threads},
          {"prefetch", d.prefetch},
          {"audio_cache_mb", d.audio_cache_mb}};
}

void read_data(detail::JsonFields f, PretrainDataConfig& d) {
  f.get("manifest_dir", d.manifest_dir);
  f.get("labels_dir", d.labels_dir);
  f.get("train_split", d.train_split);
  f.get("valid_split", d.valid_split);
  f.get("labels", d.labels);
  f.get("label_rate", d.label_rate);
  f.get("label_tolerance_s", d.label_tolerance_s);
  f.get("max_sample_size", d.max_sample_size);
  f.get("min_sample_size", d.min_sample_size);
  f.get("max_tokens", d.max_tokens);
  f.get("max_batch_items", d.max_batch_items);
  f.get("mixup_prob", d.mixup_prob);
  f.get("mixup_max_segments", d.mixup_max_segments);
  f.get("mixup_min_length", d.mixup_min_length);
  f.get("mixup_max_length", d.mixup_max_length);
  f.get("mixup_volume", d.mixup_volume);
  f.get("loader_threads", d.loader_threads);
  f.get("prefetch", d.prefetch);
  f.get("audio_cache_mb", d.audio_cache_mb);
  f.reject_unknown();
}

json objective_json(const PretrainObjectiveConfig& o) {
  return {{"prediction", o.prediction},
          {"final_dim", o.final_dim},
          {"logit_temp", o.logit_temp},
          {"cqt_weight", o.cqt_weight},
          {"cqt_target", o.cqt_target},
          {"cqt_frames", o.cqt_frames},
          {"feature_pen_weight", o.feature_pen_weight},
          {"masking", o.masking},
          {"mask_prob", o.mask_prob},
          {"mask_length", o.mask_length},
          {"min_masks", o.min_masks},
          {"noise_chunk_s", o.noise_chunk_s},
          {"noise_prob", o.noise_prob},
          {"noise_std", o.noise_std},
          {"feature_grad_mult", o.feature_grad_mult},
          {"dropout", o.dropout},
          {"attention_dropout", o.attention_dropout},
          {"activation_dropout", o.activation_dropout},
          {"dropout_input", o.dropout_input},
          {"layerdrop", o.layerdrop}};
}

void read_objective(detail::JsonFields f, PretrainObjectiveConfig& o) {
  f.get("prediction", o.prediction);
  f.get("final_dim", o.final_dim);
  f.get("logit_temp", o.logit_temp);
  f.get("cqt_weight", o.cqt_weight);
  f.get("cqt_target", o.cqt_target);
  f.get("cqt_frames", o.cqt_frames);
  f.get("feature_pen_weight", o.feature_pen_weight);
  f.get("masking", o.masking);
  f.get("mask_prob", o.mask_prob);
  f.get("mask_length", o.mask_length);
  f.get("min_masks", o.min_masks);
  f.get("noise_chunk_s", o.noise_chunk_s);
  f.get("noise_prob", o.noise_prob);
  f.get("noise_std", o.noise_std);
  f.get("feature_grad_mult", o.feature_grad_mult);
  f.get("dropout", o.dropout);
  f.get("attention_dropout", o.attention_dropout);
  f.get("activation_dropout", o.activation_dropout);
  f.get("dropout_input", o.dropout_input);
  f.get("layerdrop", o.layerdrop);
  f.reject_unknown();
}

json optim_json(const PretrainOptimConfig& o) {
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"schedule", o.schedule},
          {"warmup_steps", o.warmup_steps},
          {"max_steps", o.max_steps},
          {"end_lr", o.end_lr},
          {"power", o.power},
          {"clip_norm", o.clip_norm},
          {"accumulate", o.accumulate},
          {"max_skipped_steps", o.max_skipped_steps}};
}

void read_optim(detail::JsonFields f, PretrainOptimConfig& o) {
  f.get("lr", o.lr);
  f.get("beta1", o.beta1);
  f.get("beta2", o.beta2);
  f.get("eps", o.eps);
  f.get("weight_decay", o.weight_decay);
  f.get("schedule", o.schedule);
  f.get("warmup_steps", o.warmup_steps);
  f.get("max_steps", o.max_steps);
  f.get("end_lr", o.end_lr);
  f.get("power", o.power);
  f.get("clip_norm", o.clip_norm);
  f.get("accumulate", o.accumulate);
  f.get("max_skipped_steps", o.max_skipped_steps);
  f.reject_unknown();
}

json run_json(const PretrainRunConfig& r) {
  return {{"seed", r.seed},
          {"checkpoint_every", r.checkpoint_every},
          {"keep_last", r.keep_last},
          {"valid_every", r.valid_every},
          {"valid_batches", r.valid_batches},
          {"device", r.device},
          {"precision", r.precision},
          {"bucket_mb", r.bucket_mb},
          {"gradient_backend", r.gradient_backend},
          {"max_seconds", r.max_seconds}};
}

void read_run(detail::JsonFields f, PretrainRunConfig& r) {
  f.get("seed", r.seed);
  f.get("checkpoint_every", r.checkpoint_every);
  f.get("keep_last", r.keep_last);
  f.get("valid_every", r.valid_every);
  f.get("valid_batches", r.valid_batches);
  f.get("device", r.device);
  f.get("precision", r.precision);
  f.get("bucket_mb", r.bucket_mb);
  f.get("gradient_backend", r.gradient_backend);
  f.get("max_seconds", r.max_seconds);
  f.reject_unknown();
}

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  MUSEFM_CHECK(in.good(), "cannot open ", what, " '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool finite_in(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; }
}  // namespace

void PretrainConfig::validate() const {
  model.validate();
  const auto& d = data;
  const char* p = "pretrain config: ";
  MUSEFM_CHECK(!d.labels.empty(), p, "data.labels: at least one label set is needed");
  for (const auto& l : d.labels)
    MUSEFM_CHECK(!l.empty() && l.find('/') == std::string::npos && l.find(' ') == std::string::npos,
                 p, "data.labels: '", l, "' is not a label name (like km or encodec_0)");
  MUSEFM_CHECK(!d.train_split.empty(), p, "data.train_split is empty");
  MUSEFM_CHECK(finite_in(d.label_rate, 1, 1000), p, "data.label_rate must be in [1, 1000] Hz, got ",
               d.label_rate);
  MUSEFM_CHECK(finite_in(d.label_tolerance_s, 0, 10), p,
               "data.label_tolerance_s must be in [0, 10]");
  MUSEFM_CHECK(d.min_sample_size >= 1 && d.max_sample_size >= d.min_sample_size, p,
               "data.max_sample_size (", d.max_sample_size, ") must be >= data.min_sample_size (",
               d.min_sample_size, ") >= 1");
  MUSEFM_CHECK(d.max_tokens >= d.max_sample_size, p, "data.max_tokens (", d.max_tokens,
               ") must hold at least one crop of data.max_sample_size (", d.max_sample_size, ")");
  MUSEFM_CHECK(d.max_batch_items >= 0, p, "data.max_batch_items must be >= 0");
  MUSEFM_CHECK(finite_in(d.mixup_prob, 0, 1), p, "data.mixup_prob must be in [0, 1]");
  MUSEFM_CHECK(d.mixup_max_segments >= 1 && d.mixup_max_segments <= 16, p,
               "data.mixup_max_segments must be in [1, 16]");
  MUSEFM_CHECK(d.mixup_min_length >= 1 && d.mixup_max_length >= d.mixup_min_length, p,
               "data.mixup_max_length must be >= data.mixup_min_length >= 1");
  MUSEFM_CHECK(finite_in(d.mixup_volume, 0, 10), p, "data.mixup_volume must be in [0, 10]");
  MUSEFM_CHECK(d.loader_threads >= 1 && d.loader_threads <= 64, p,
               "data.loader_threads must be in [1, 64]");
  MUSEFM_CHECK(d.audio_cache_mb >= 0, p, "data.audio_cache_mb must be >= 0");
  MUSEFM_CHECK(d.prefetch >= 1 && d.prefetch <= 256, p, "data.prefetch must be in [1, 256]");

  const auto& o = objective;
  MUSEFM_CHECK(o.prediction == "cosine" || o.prediction == "linear", p,
               "objective.prediction must be \"cosine\" (HuBERT / MERT) or \"linear\" (MusicFM), "
               "got \"",
               o.prediction, "\"");
  MUSEFM_CHECK(o.final_dim >= 1 && o.final_dim <= 4096, p,
               "objective.final_dim must be in [1, 4096]");
  MUSEFM_CHECK(finite_in(o.logit_temp, 1e-4, 100), p,
               "objective.logit_temp must be in [1e-4, 100]");
  MUSEFM_CHECK(finite_in(o.cqt_weight, 0, 1e6), p, "objective.cqt_weight must be >= 0");
  MUSEFM_CHECK(o.cqt_target == "magnitude" || o.cqt_target == "log", p,
               "objective.cqt_target must be \"magnitude\" (MERT) or \"log\", got \"", o.cqt_target,
               "\"");
  MUSEFM_CHECK(o.cqt_frames == "masked" || o.cqt_frames == "all", p,
               "objective.cqt_frames must be \"masked\" (MERT) or \"all\", got \"", o.cqt_frames,
               "\"");
  MUSEFM_CHECK(finite_in(o.feature_pen_weight, 0, 1e6), p,
               "objective.feature_pen_weight must be >= 0");
  MUSEFM_CHECK(o.masking == "span" || o.masking == "noise", p,
               "objective.masking must be \"span\" or \"noise\", got \"", o.masking, "\"");
  MUSEFM_CHECK(finite_in(o.mask_prob, 0, 1), p, "objective.mask_prob must be in [0, 1]");
  MUSEFM_CHECK(o.mask_length >= 1 && o.mask_length <= 1000, p,
               "objective.mask_length must be in [1, 1000]");
  MUSEFM_CHECK(o.min_masks >= 0, p, "objective.min_masks must be >= 0");
  MUSEFM_CHECK(finite_in(o.noise_chunk_s, 1e-3, 60), p,
               "objective.noise_chunk_s must be in (0, 60]");
  MUSEFM_CHECK(finite_in(o.noise_prob, 0, 1), p, "objective.noise_prob must be in [0, 1]");
  MUSEFM_CHECK(finite_in(o.noise_std, 0, 100), p, "objective.noise_std must be in [0, 100]");
  MUSEFM_CHECK(finite_in(o.feature_grad_mult, 0, 1), p,
               "objective.feature_grad_mult must be in [0, 1]");
  for (auto [name, v] : {std::pair{"dropout", o.dropout},
                         {"attention_dropout", o.attention_dropout},
                         {"activation_dropout", o.activation_dropout},
                         {"dropout_input", o.dropout_input},
                         {"layerdrop", o.layerdrop}})
    MUSEFM_CHECK(finite_in(v, 0, 0.95), p, "objective.", name, " must be in [0, 0.95], got ", v);
  const bool musicfm = model.model_type == "musicfm";
  MUSEFM_CHECK(!musicfm || o.masking == "noise", p,
               "objective.masking: MusicFM models mask the waveform (\"noise\"); a learned mask "
               "embedding needs a MERT model");
  MUSEFM_CHECK(!musicfm || (o.feature_pen_weight == 0 && o.feature_grad_mult == 1), p,
               "objective.feature_pen_weight / feature_grad_mult apply to MERT's conv front-end; "
               "set them to 0 / 1 for MusicFM");

  const auto& op = optim;
  MUSEFM_CHECK(finite_in(op.lr, 0, 10) && op.lr > 0, p, "optim.lr must be in (0, 10]");
  MUSEFM_CHECK(finite_in(op.beta1, 0, 0.999999) && finite_in(op.beta2, 0, 0.999999), p,
               "optim.beta1 / beta2 must be in [0, 1)");
  MUSEFM_CHECK(finite_in(op.eps, 1e-12, 1), p, "optim.eps must be in [1e-12, 1]");
  MUSEFM_CHECK(finite_in(op.weight_decay, 0, 1), p, "optim.weight_decay must be in [0, 1]");
  MUSEFM_CHECK(op.schedule == "polynomial" || op.schedule == "cosine" || op.schedule == "constant",
               p, "optim.schedule must be \"polynomial\", \"cosine\" or \"constant\", got \"",
               op.schedule, "\"");
  MUSEFM_CHECK(op.max_steps >= 1, p, "optim.max_steps must be >= 1");
  MUSEFM_CHECK(op.warmup_steps >= 0, p, "optim.warmup_steps must be >= 0");
  MUSEFM_CHECK(finite_in(op.end_lr, 0, op.lr), p, "optim.end_lr must be in [0, optim.lr]");
  MUSEFM_CHECK(finite_in(op.power, 0.01, 100), p, "optim.power must be in [0.01, 100]");
  MUSEFM_CHECK(finite_in(op.clip_norm, 0, 1e9), p, "optim.clip_norm must be >= 0");
  MUSEFM_CHECK(op.accumulate >= 1 && op.accumulate <= 4096, p,
               "optim.accumulate must be in [1, 4096]");
  MUSEFM_CHECK(op.max_skipped_steps >= 1, p, "optim.max_skipped_steps must be >= 1");

  const auto& r = run;
  MUSEFM_CHECK(r.checkpoint_every >= 1, p, "run.checkpoint_every must be >= 1");
  MUSEFM_CHECK(r.keep_last >= 1, p, "run.keep_last must be >= 1");
  MUSEFM_CHECK(r.valid_every >= 0 && r.valid_batches >= 1, p,
               "run.valid_every must be >= 0 and run.valid_batches >= 1");
  MUSEFM_CHECK(r.device == "cpu" || r.device.rfind("cuda", 0) == 0, p,
               "run.device must be \"cpu\", \"cuda\" or \"cuda:N\", got \"", r.device, "\"");
  MUSEFM_CHECK(r.precision == "auto" || r.precision == "fp32" || r.precision == "bf16", p,
               "run.precision must be \"auto\", \"fp32\" or \"bf16\", got \"", r.precision, "\"");
  MUSEFM_CHECK(finite_in(r.bucket_mb, 0.001, 4096), p, "run.bucket_mb must be in (0, 4096]");
  MUSEFM_CHECK(r.gradient_backend == "auto" || r.gradient_backend == "gloo", p,
               "run.gradient_backend must be \"auto\" or \"gloo\", got \"", r.gradient_backend,
               "\"");
  MUSEFM_CHECK(finite_in(r.max_seconds, 0, 1e9), p, "run.max_seconds must be >= 0");
}

std::string PretrainConfig::to_json() const {
  json j{{"model", json::parse(model.to_json())},
         {"data", data_json(data)},
         {"objective", objective_json(objective)},
         {"optim", optim_json(optim)},
         {"run", run_json(run)}};
  return j.dump(2);
}

PretrainConfig PretrainConfig::from_json(const std::string& text, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    MUSEFM_FAIL("pretrain config: invalid JSON: ", e.what());
  }
  MUSEFM_CHECK(j.is_object(), "pretrain config: expected a JSON object, got ", j.type_name());
  PretrainConfig c;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "model") {
      if (v.is_string()) {
        fs::path path = v.get<std::string>();
        if (path.is_relative() && !base_dir.empty()) path = fs::path(base_dir) / path;
        try {
          c.model = EncoderConfig::load(path.string());
        } catch (const Error& e) {
          MUSEFM_FAIL("pretrain config: model: ", e.what());
        }
      } else {
        MUSEFM_CHECK(v.is_object(), "pretrain config: 'model' must be an object or a path");
        try {
          c.model = EncoderConfig::from_json(v.dump());
        } catch (const Error& e) {
          MUSEFM_FAIL("pretrain config: model: ", e.what());
        }
      }
    } else if (key == "data") {
      read_data(detail::JsonFields(v, "pretrain config: data"), c.data);
    } else if (key == "objective") {
      read_objective(detail::JsonFields(v, "pretrain config: objective"), c.objective);
    } else if (key == "optim") {
      read_optim(detail::JsonFields(v, "pretrain config: optim"), c.optim);
    } else if (key == "run") {
      read_run(detail::JsonFields(v, "pretrain config: run"), c.run);
    } else if (key != "description") {
      MUSEFM_FAIL("pretrain config: unknown key '", key,
                  "' (known keys: description, model, data, objective, optim, run)");
    }
  }
  c.validate();
  return c;
}

PretrainConfig PretrainConfig::load(const std::string& path,
                                    const std::vector<std::string>& overrides) {
  const std::string text = read_text(path, "pretrain config");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    MUSEFM_FAIL("pretrain config '", path, "': invalid JSON: ", e.what());
  }
  MUSEFM_CHECK(j.is_object(), "pretrain config '", path, "': expected a JSON object");
  const std::string base = fs::path(path).parent_path().string();
  for (const std::string& o : overrides) {
    const size_t eq = o.find('='), dot = o.find('.');
    MUSEFM_CHECK(eq != std::string::npos && dot != std::string::npos && dot < eq, "--set '", o,
                 "': expected section.key=value (e.g. optim.lr=1e-3)");
    const std::string section = o.substr(0, dot), key = o.substr(dot + 1, eq - dot - 1),
                      value = o.substr(eq + 1);
    MUSEFM_CHECK(section == "data" || section == "objective" || section == "optim" ||
                     section == "run" || section == "model",
                 "--set '", o, "': unknown section '", section,
                 "' (data, objective, optim, run, model)");
    json parsed;
    try {
      parsed = json::parse(value);
    } catch (const json::exception&) {
      parsed = value;  // a bare string such as run.device=cuda
    }
    json& sec = j[section];
    if (section == "model" && sec.is_string()) {
      fs::path mp = sec.get<std::string>();
      if (mp.is_relative()) mp = fs::path(base) / mp;
      sec = json::parse(EncoderConfig::load(mp.string()).to_json());
    }
    if (sec.is_null()) sec = json::object();
    sec[key] = parsed;
  }
  try {
    return from_json(j.dump(), base);
  } catch (const Error& e) {
    MUSEFM_FAIL("'", path, "': ", e.what());
  }
}

}  // namespace musefm
