// musefm command-line tool: one binary, one subcommand per job.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "musefm/error.h"
#include "musefm/runtime.h"

int main(int argc, char** argv) {
  musefm::keep_freed_memory_for_reuse();  // windows reuse their activations (runtime.h)
  CLI::App app{
      "musefm — self-supervised music representations (MERT / MusicFM) in C++.\n"
      "Decode audio, compute the models' exact front-end features, extract embeddings with\n"
      "MERT-v1 and MusicFM models, label manifests with teachers (k-means, BEST-RQ, EnCodec),\n"
      "pretrain encoders by masked prediction (one CPU to many ranks) and export them.",
      "musefm"};
  app.set_version_flag("--version", std::string("musefm ") + MUSEFM_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'musefm <command> --help' for the options of a command.");
  musefm::cli::add_info_command(app);
  musefm::cli::add_features_command(app);
  musefm::cli::add_extract_command(app);
  musefm::cli::add_teach_command(app);
  musefm::cli::add_pretrain_command(app);
  musefm::cli::add_probe_command(app);
  musefm::cli::add_demo_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const musefm::Error& e) {
    std::fprintf(stderr, "musefm: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "musefm: internal error: %s\n", e.what());
    return 2;
  }
  return musefm::cli::exit_code();
}
