// Internal: the musefm subcommands. Each add_* registers its CLI11 subcommand and callback;
// callbacks throw musefm::Error on bad input and set the process exit code via exit_code().
#pragma once

#include <CLI/CLI.hpp>

namespace musefm::cli {

void add_info_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_extract_command(CLI::App& app);
void add_teach_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);
void add_probe_command(CLI::App& app);

/// Exit status the process returns after a successful parse (non-zero when a batch item failed).
int& exit_code();

}  // namespace musefm::cli
