// musefm features: compute mel / MFCC / CQT / chroma features of audio files to .npy.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/feature_runner.h"
#include "cli/progress.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {
const std::set<std::string> kAudioExtensions{".wav",  ".flac", ".ogg", ".opus", ".mp3",
                                             ".aiff", ".aif",  ".oga", ".w64",  ".caf"};

// Files as given; directories are searched recursively for audio extensions (sorted).
std::vector<std::string> collect_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(a, ec)) {
        std::string ext = e.path().extension().string();
        for (auto& c : ext) c = char(std::tolower(c));
        if (e.is_regular_file() && kAudioExtensions.count(ext)) found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      MUSEFM_CHECK(!found.empty(), "input directory '", a, "' holds no audio files");
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(a);  // missing files are reported per item
    }
  }
  return out;
}

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
  MUSEFM_CHECK(!o.inputs.empty(), "no input files given");
  const std::vector<std::string> inputs = collect_inputs(o.inputs);
  if (!o.out.empty()) {
    MUSEFM_CHECK(inputs.size() == 1, "--out names one output file but there are ", inputs.size(),
                 " inputs: use --out-dir");
    MUSEFM_CHECK(o.overwrite || !fs::exists(o.out), "'", o.out,
                 "' exists (use --overwrite to replace it)");
    runner.run(inputs[0], o.out);
    std::printf("wrote %s (+ %s)\n", o.out.c_str(), sidecar_path(o.out).c_str());
    return;
  }
  MUSEFM_CHECK(!o.out_dir.empty(), "give --out FILE.npy (one input) or --out-dir DIR");
  fs::create_directories(o.out_dir);
  const std::string failures_path = (fs::path(o.out_dir) / "failures.jsonl").string();
  std::ofstream failures;
  int ok = 0, skipped = 0, failed = 0;
  Progress progress(o.kind, int64_t(inputs.size()));
  for (const auto& in : inputs) {
    const std::string out = (fs::path(o.out_dir) / fs::path(in).stem()).string() + ".npy";
    if (!o.overwrite && fs::exists(out) && fs::exists(sidecar_path(out))) {
      ++skipped;  // resume: finished earlier
    } else {
      try {
        runner.run(in, out);
        ++ok;
      } catch (const Error& e) {
        ++failed;
        if (!failures.is_open()) failures.open(failures_path, std::ios::app);
        failures << nlohmann::json{{"input", in}, {"error", e.what()}}.dump() << "\n";
        failures.flush();
        std::fprintf(stderr, "\nmusefm: error: %s\n", e.what());
      }
    }
    progress.step(1, fs::path(in).filename().string());
  }
  progress.finish();
  std::printf("%d written, %d already done (skipped), %d failed%s\n", ok, skipped, failed,
              failed ? (" — see " + failures_path).c_str() : "");
  if (failed) exit_code() = 1;
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
