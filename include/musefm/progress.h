// musefm/progress.h — how the long pipelines (label_manifest, run_probe_suite) report what they
// do: stages with a count of items, and log lines. The library never prints; a command-line
// tool draws bars from these, a notebook may update a widget, a service may log.
//
//   musefm::ProgressCallbacks cb;
//   cb.begin = [](const std::string& stage, int64_t total) { std::cerr << stage << "\n"; };
//   cb.step = [](int64_t n, const std::string& item) { /* n more items done; item: a file */ };
//   cb.log = [](musefm::LogLevel, const std::string& line) { std::cerr << line << "\n"; };
//   musefm::label_manifest(options, cb);
//
// Any callback may be left empty. Callbacks run on the calling thread, in order: begin, steps,
// end for each stage (stages do not nest); log lines may come between any two of them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace musefm {

/// Info: what a quiet run may drop (e.g. "from the cache"). Warning: something was left out or
/// skipped and the user should know (a failed entry, a damaged log line).
enum class LogLevel { Info, Warning };

struct ProgressCallbacks {
  /// A stage starts, with `total` items (e.g. "labels train", 1200 entries).
  std::function<void(const std::string& stage, int64_t total)> begin;
  /// `n` more items of the current stage are done; `item` names the last one (may be "").
  std::function<void(int64_t n, const std::string& item)> step;
  /// The current stage ended (also when it stopped before `total`).
  std::function<void()> end;
  /// One line of text, without a trailing newline.
  std::function<void(LogLevel level, const std::string& line)> log;

  // Null-safe calls, for the pipelines.
  void on_begin(const std::string& stage, int64_t total) const {
    if (begin) begin(stage, total);
  }
  void on_step(int64_t n, const std::string& item) const {
    if (step) step(n, item);
  }
  void on_end() const {
    if (end) end();
  }
  void on_log(LogLevel level, const std::string& line) const {
    if (log) log(level, line);
  }
};

}  // namespace musefm
