// Internal: a one-line progress bar on stderr with rate and ETA (plain lines when not a TTY).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "musefm/progress.h"

namespace musefm::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  /// Advances by `n` items; `note` (e.g. the current file) is shown after the bar.
  void step(int64_t n = 1, const std::string& note = "");
  /// Ends the line.
  void finish();

 private:
  void draw(const std::string& note);
  std::string label_;
  int64_t total_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// Callbacks for the library's pipelines: a Progress bar per stage (none when `quiet`), warnings
/// on stderr after `warning_prefix`, info lines after `info_prefix` (dropped when `quiet`).
ProgressCallbacks progress_callbacks(const std::string& warning_prefix,
                                     const std::string& info_prefix, bool quiet = false);

}  // namespace musefm::cli
