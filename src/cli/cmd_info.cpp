// musefm info FILE...: what the header says (format, rate, channels, duration).
#include <cstdio>

#include "audio/audio_json.h"
#include "cli/commands.h"

namespace musefm::cli {

int& exit_code() {
  static int code = 0;
  return code;
}

void add_info_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("info", "Show format, sample rate, channels and duration of audio files");
  auto files = std::make_shared<std::vector<std::string>>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("files", *files, "Audio files (anything libsndfile decodes)")->required();
  cmd->add_flag("--json", *as_json, "One JSON object per line instead of text");
  cmd->callback([files, as_json] {
    for (const auto& f : *files) {
      try {
        const AudioInfo i = probe_audio(f);
        if (*as_json) {
          std::printf("%s\n", audio_detail::audio_json(f, i, true).dump().c_str());
        } else {
          std::printf(
              "%s\n  format:      %s / %s\n  sample rate: %d Hz\n  channels:    %d\n"
              "  duration:    %.3f s (%lld frames)\n",
              f.c_str(), i.format.c_str(), i.subtype.c_str(), i.sample_rate, i.channels,
              i.duration_s(), (long long)i.frames);
        }
      } catch (const Error& e) {
        std::fprintf(stderr, "musefm: error: %s\n", e.what());
        exit_code() = 1;  // report every bad file, keep going
      }
    }
  });
}

}  // namespace musefm::cli
