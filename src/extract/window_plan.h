// Internal: where the windows of an input lie and which output frames each one contributes.
// Pure integer logic shared by Extractor::extract and ExtractStream (see extract.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace musefm::extract_detail {

/// Window [start, end) in samples contributing global frames [first_frame, end_frame).
struct Span {
  int64_t start = 0, end = 0, first_frame = 0, end_frame = 0;
};

class WindowPlanner {
 public:
  /// window 0 = unbounded; hop > 0 a multiple of frame_hop; frames(n) = Encoder::num_frames.
  WindowPlanner(int64_t window, int64_t hop, int64_t frame_hop,
                std::function<int64_t(int64_t)> frames)
      : window_(window), hop_(hop), frame_hop_(frame_hop), frames_(std::move(frames)) {}

  /// True when a window starting at `start` is not the last of an input with at least
  /// `available` samples so far. The last window may run up to an eighth of a window past its
  /// length, so a short tail never costs a whole extra pass.
  bool full_window_ready(int64_t start, int64_t available) const {
    return window_ > 0 && available > start + window_ + slack();
  }
  int64_t slack() const { return window_ / 8; }

  /// A full (non-last) window at `start` whose frames before `keep_from` came from earlier
  /// windows: it contributes up to the middle of its overlap with the next window.
  Span full(int64_t start, int64_t keep_from) const {
    const int64_t g = start / frame_hop_, next = (start + hop_) / frame_hop_;
    const int64_t own_end = g + frames_(window_);
    const int64_t middle = std::clamp((next + own_end) / 2, next, own_end);
    return {start, start + window_, keep_from, middle};
  }

  /// The last window of an input of `total` samples, where the next regular window would start
  /// at `next`: it ends at the end of the input and is a full window long where the input
  /// allows (start aligned down to the frame grid, never before `earliest`, the start of the
  /// previous window, nor after `next`, so no frame is left out).
  Span last(int64_t total, int64_t keep_from, int64_t earliest, int64_t next) const {
    int64_t start = 0;
    if (window_ > 0 && total > window_)
      start = std::min(next, std::max(earliest, (total - window_) / frame_hop_ * frame_hop_));
    return {start, total, keep_from, start / frame_hop_ + frames_(total - start)};
  }

  /// Every window of an input of `total` samples.
  std::vector<Span> plan(int64_t total) const {
    std::vector<Span> spans;
    int64_t start = 0, keep_from = 0, earliest = 0;
    while (full_window_ready(start, total)) {
      spans.push_back(full(start, keep_from));
      keep_from = spans.back().end_frame;
      earliest = start;
      start += hop_;
    }
    spans.push_back(last(total, keep_from, earliest, start));
    return spans;
  }

 private:
  int64_t window_, hop_, frame_hop_;
  std::function<int64_t(int64_t)> frames_;
};

}  // namespace musefm::extract_detail
