// musefm features: compute mel / MFCC / CQT / chroma features of audio files to .npy.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/batch.h"
#include "cli/commands.h"
#include "musefm/feature_runner.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  MUSEFM_CHECK(in.good(), "cannot read config '", path, "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Options {
  std::vector<std::string> inputs, overrides;
  std::string kind = "mel", out, out_dir, config, device = "cpu", quality = "best";
  bool overwrite = false, print_config = false;
};

void run_features(const Options& o) {
  FeatureRunner runner(parse_feature_kind(o.kind), o.config.empty() ? "" : read_text(o.config),
                       o.overrides, o.device, parse_resample_quality(o.quality));
  if (o.print_config) {
    std::printf("%s\n", runner.config_json().c_str());
    return;
  }
  const std::vector<FileInput> inputs = collect_inputs(o.inputs);
  if (!o.out.empty()) {
    MUSEFM_CHECK(inputs.size() == 1, "--out names one output file but there are ", inputs.size(),
                 " inputs: use --out-dir");
    MUSEFM_CHECK(o.overwrite || !fs::exists(o.out), "'", o.out,
                 "' exists (use --overwrite to replace it)");
    runner.run(inputs[0].path, o.out);
    std::printf("wrote %s (+ %s)\n", o.out.c_str(), sidecar_path(o.out).c_str());
    return;
  }
  MUSEFM_CHECK(!o.out_dir.empty(), "give --out FILE.npy (one input) or --out-dir DIR");
  run_batch(
      inputs, o.out_dir, o.overwrite, o.kind, ".npy", 1,
      one_at_a_time([&](const std::string& in, const std::string& out) { runner.run(in, out); }));
}
}  // namespace

void add_features_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "features",
      "Compute front-end features of audio files (.npy, frames x dims, + a .json sidecar)");
  auto o = std::make_shared<Options>();
  cmd->add_option("inputs", o->inputs, "Audio files or directories (searched recursively)");
  cmd->add_option("--kind,-k", o->kind,
                  "mel: MusicFM log-mel (torchaudio); mfcc: Kaldi MFCC + deltas (HuBERT);\n"
                  "cqt: MERT's 336-bin CQT target (nnAudio); chroma: librosa chroma_cqt")
      ->check(CLI::IsMember({"mel", "mfcc", "cqt", "chroma"}))
      ->capture_default_str();
  cmd->add_option("--out,-o", o->out, "Output .npy for a single input");
  cmd->add_option("--out-dir", o->out_dir,
                  "Output folder for many inputs (<stem>.npy each); finished files are skipped,\n"
                  "failures are listed in failures.jsonl and give exit status 1");
  cmd->add_option("--config", o->config, "Feature config JSON (see --print-config)");
  cmd->add_option("--set", o->overrides, "Override a config field: --set n_mels=64 (repeatable)");
  cmd->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--resample", o->quality, "Resampler: best, medium, fastest, zoh, linear")
      ->check(CLI::IsMember({"best", "medium", "fastest", "zoh", "linear"}))
      ->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Recompute outputs that already exist");
  cmd->add_flag("--print-config", o->print_config, "Print the resolved config JSON and exit");
  cmd->callback([o] { run_features(*o); });
}

}  // namespace musefm::cli
