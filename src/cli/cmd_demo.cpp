// musefm demo: the end-to-end showcase on a built-in real recording (or given files).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "musefm/feature_runner.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {
void run_demo(const std::vector<std::string>& files, const std::string& out_dir) {
  fs::create_directories(out_dir);
  struct Kind {
    FeatureKind kind;
    const char* what;
  };
  const Kind kinds[] = {{FeatureKind::Mel, "MusicFM log-mel (torchaudio parity)"},
                        {FeatureKind::Mfcc, "HuBERT MFCC+deltas (Kaldi parity)"},
                        {FeatureKind::Cqt, "MERT CQT target (nnAudio parity)"},
                        {FeatureKind::Chroma, "chroma (librosa parity)"}};
  for (const auto& file : files) {
    const AudioInfo info = probe_audio(file);
    std::printf("\n%s\n  %s / %s, %d Hz, %d ch, %.2f s\n", file.c_str(), info.format.c_str(),
                info.subtype.c_str(), info.sample_rate, info.channels, info.duration_s());
    const std::string stem = fs::path(file).stem().string();
    for (const auto& k : kinds) {
      FeatureRunner runner(k.kind, "", {}, "cpu", ResampleQuality::Best);
      const std::string out =
          (fs::path(out_dir) / (stem + "." + to_string(k.kind) + ".npy")).string();
      const auto t0 = std::chrono::steady_clock::now();
      int64_t frames = 0, dims = 0;
      const std::vector<float> x = runner.run(file, out, &frames, &dims);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("  %-6s %5lld x %-3lld @ %6.2f Hz  %7.1f ms  %-38s -> %s\n",
                  to_string(k.kind).c_str(), (long long)frames, (long long)dims,
                  runner.frame_rate(), ms, k.what, out.c_str());
      const std::string note = runner.describe(x, frames, dims);
      if (!note.empty()) std::printf("         %s\n", note.c_str());
    }
  }
  std::printf("\nFeatures and JSON sidecars are in %s/\n", out_dir.c_str());
}
}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo", "Decode audio and write all front-end features (default: a built-in recording)");
  auto files = std::make_shared<std::vector<std::string>>();
  auto out_dir = std::make_shared<std::string>("demo_out");
  cmd->add_option("files", *files, "Audio files (default: the bundled real recording excerpt)");
  cmd->add_option("--out-dir", *out_dir, "Output folder")->capture_default_str();
  cmd->callback([files, out_dir] {
    std::vector<std::string> in = *files;
    if (in.empty()) in.push_back(MUSEFM_DEMO_AUDIO);
    run_demo(in, *out_dir);
  });
}

}  // namespace musefm::cli
