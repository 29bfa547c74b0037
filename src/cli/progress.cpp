#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

namespace musefm::cli {

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), tty_(::isatty(STDERR_FILENO) == 1) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::step(int64_t n, const std::string& note) {
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (done_ >= total_ || now - last_draw_ > std::chrono::milliseconds(tty_ ? 100 : 5000)) {
    last_draw_ = now;
    draw(note);
  }
}

void Progress::draw(const std::string& note) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? double(done_) / double(total_) : 1.0;
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? double(total_ - done_) / rate : 0.0;
  const int width = 28, filled = int(frac * width);
  std::string bar(size_t(filled), '#');
  bar.append(size_t(width - filled), '.');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %.1f/s ETA %.0fs %s%s", tty_ ? "\r\033[K" : "",
               label_.c_str(), bar.c_str(), (long long)done_, (long long)total_, rate, eta,
               note.substr(0, 60).c_str(), tty_ ? "" : "\n");
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fputc('\n', stderr);
}

ProgressCallbacks progress_callbacks(const std::string& warning_prefix,
                                     const std::string& info_prefix, bool quiet) {
  ProgressCallbacks cb;
  auto bar = std::make_shared<std::unique_ptr<Progress>>();
  if (!quiet) {
    cb.begin = [bar](const std::string& stage, int64_t total) {
      *bar = std::make_unique<Progress>(stage, total);
    };
    cb.step = [bar](int64_t n, const std::string& item) {
      if (*bar) (*bar)->step(n, item);
    };
    cb.end = [bar] {
      if (*bar) (*bar)->finish();
      bar->reset();
    };
  }
  cb.log = [=](LogLevel level, const std::string& line) {
    if (level == LogLevel::Info && quiet) return;
    const std::string& prefix = level == LogLevel::Warning ? warning_prefix : info_prefix;
    std::fprintf(stderr, "%s%s\n", prefix.c_str(), line.c_str());
  };
  return cb;
}

}  // namespace musefm::cli
