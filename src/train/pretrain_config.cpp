// PretrainConfig: validation and strict JSON round-trip (sections data / objective / optim /
// run, the model inline or as a path), plus "section.key=value" overrides from the CLI.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/config_fields.h"
#include "musefm/overrides.h"
#include "musefm/train.h"

namespace musefm {
MUSEFM_CONFIG_FIELDS(PretrainDataConfig, "pretrain config: data", manifest_dir, labels_dir,
                     train_split, valid_split, labels, label_rate, label_tolerance_s,
                     max_sample_size, min_sample_size, max_tokens, max_batch_items, mixup_prob,
                     mixup_max_segments, mixup_min_length, mixup_max_length, mixup_volume,
                     loader_threads, prefetch, audio_cache_mb);
MUSEFM_CONFIG_FIELDS(PretrainObjectiveConfig, "pretrain config: objective", prediction, final_dim,
                     logit_temp, cqt_weight, cqt_target, cqt_frames, feature_pen_weight, masking,
                     mask_prob, mask_length, min_masks, noise_chunk_s, noise_prob, noise_std,
                     feature_grad_mult, dropout, attention_dropout, activation_dropout,
                     dropout_input, layerdrop);
MUSEFM_CONFIG_FIELDS(PretrainOptimConfig, "pretrain config: optim", lr, beta1, beta2, eps,
                     weight_decay, schedule, warmup_steps, max_steps, end_lr, power, clip_norm,
                     accumulate, max_skipped_steps);
MUSEFM_CONFIG_FIELDS(PretrainRunConfig, "pretrain config: run", seed, checkpoint_every, keep_last,
                     valid_every, valid_batches, device, precision, bucket_mb, gradient_backend,
                     max_seconds);

namespace {
using nlohmann::json;
namespace fs = std::filesystem;

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  MUSEFM_CHECK(in.good(), "cannot open ", what, " '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename Section>
void read_section(const json& v, Section& out) {
  detail::JsonFields f(v, detail::ConfigFields<Section>::name);
  detail::JsonReader::read_into(f, out);
}

bool finite_in(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; }
}  // namespace

namespace {
constexpr const char* p = "pretrain config: ";

void validate_data(const PretrainDataConfig& d) {
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
}

void validate_objective(const PretrainObjectiveConfig& o, const EncoderConfig& model) {
  MUSEFM_CHECK(o.final_dim >= 1 && o.final_dim <= 4096, p,
               "objective.final_dim must be in [1, 4096]");
  MUSEFM_CHECK(finite_in(o.logit_temp, 1e-4, 100), p,
               "objective.logit_temp must be in [1e-4, 100]");
  MUSEFM_CHECK(finite_in(o.cqt_weight, 0, 1e6), p, "objective.cqt_weight must be >= 0");
  MUSEFM_CHECK(finite_in(o.feature_pen_weight, 0, 1e6), p,
               "objective.feature_pen_weight must be >= 0");
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
  const bool musicfm = model.model_type == ModelType::MusicFm;
  MUSEFM_CHECK(!musicfm || o.masking == Masking::Noise, p,
               "objective.masking: MusicFM models mask the waveform (\"noise\"); a learned mask "
               "embedding needs a MERT model");
  MUSEFM_CHECK(!musicfm || (o.feature_pen_weight == 0 && o.feature_grad_mult == 1), p,
               "objective.feature_pen_weight / feature_grad_mult apply to MERT's conv front-end; "
               "set them to 0 / 1 for MusicFM");
}

void validate_optim(const PretrainOptimConfig& op) {
  MUSEFM_CHECK(finite_in(op.lr, 0, 10) && op.lr > 0, p, "optim.lr must be in (0, 10]");
  MUSEFM_CHECK(finite_in(op.beta1, 0, 0.999999) && finite_in(op.beta2, 0, 0.999999), p,
               "optim.beta1 / beta2 must be in [0, 1)");
  MUSEFM_CHECK(finite_in(op.eps, 1e-12, 1), p, "optim.eps must be in [1e-12, 1]");
  MUSEFM_CHECK(finite_in(op.weight_decay, 0, 1), p, "optim.weight_decay must be in [0, 1]");
  MUSEFM_CHECK(op.max_steps >= 1, p, "optim.max_steps must be >= 1");
  MUSEFM_CHECK(op.warmup_steps >= 0, p, "optim.warmup_steps must be >= 0");
  MUSEFM_CHECK(finite_in(op.end_lr, 0, op.lr), p, "optim.end_lr must be in [0, optim.lr]");
  MUSEFM_CHECK(finite_in(op.power, 0.01, 100), p, "optim.power must be in [0.01, 100]");
  MUSEFM_CHECK(finite_in(op.clip_norm, 0, 1e9), p, "optim.clip_norm must be >= 0");
  MUSEFM_CHECK(op.accumulate >= 1 && op.accumulate <= 4096, p,
               "optim.accumulate must be in [1, 4096]");
  MUSEFM_CHECK(op.max_skipped_steps >= 1, p, "optim.max_skipped_steps must be >= 1");
}

void validate_run(const PretrainRunConfig& r) {
  MUSEFM_CHECK(r.checkpoint_every >= 1, p, "run.checkpoint_every must be >= 1");
  MUSEFM_CHECK(r.keep_last >= 1, p, "run.keep_last must be >= 1");
  MUSEFM_CHECK(r.valid_every >= 0 && r.valid_batches >= 1, p,
               "run.valid_every must be >= 0 and run.valid_batches >= 1");
  MUSEFM_CHECK(r.device == "cpu" || r.device.rfind("cuda", 0) == 0, p,
               "run.device must be \"cpu\", \"cuda\" or \"cuda:N\", got \"", r.device, "\"");
  MUSEFM_CHECK(finite_in(r.bucket_mb, 0.001, 4096), p, "run.bucket_mb must be in (0, 4096]");
  MUSEFM_CHECK(finite_in(r.max_seconds, 0, 1e9), p, "run.max_seconds must be >= 0");
}
}  // namespace

void PretrainConfig::validate() const {
  model.validate();
  validate_data(data);
  validate_objective(objective, model);
  validate_optim(optim);
  validate_run(run);
}

std::string PretrainConfig::to_json() const {
  json j{{"model", json::parse(model.to_json())},
         {"data", detail::fields_to_json(data)},
         {"objective", detail::fields_to_json(objective)},
         {"optim", detail::fields_to_json(optim)},
         {"run", detail::fields_to_json(run)}};
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
      read_section(v, c.data);
    } else if (key == "objective") {
      read_section(v, c.objective);
    } else if (key == "optim") {
      read_section(v, c.optim);
    } else if (key == "run") {
      read_section(v, c.run);
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
    json& model = j["model"];
    if (o.compare(0, dot, "model") == 0 && model.is_string()) {  // a path: inline it first
      fs::path mp = model.get<std::string>();
      if (mp.is_relative()) mp = fs::path(base) / mp;
      model = json::parse(EncoderConfig::load(mp.string()).to_json());
    }
    if (model.is_null()) j.erase("model");
  }
  j = json::parse(apply_overrides(j.dump(), overrides));
  try {
    return from_json(j.dump(), base);
  } catch (const Error& e) {
    MUSEFM_FAIL("'", path, "': ", e.what());
  }
}

}  // namespace musefm
