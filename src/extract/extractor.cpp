// Extractor and ExtractStream: windows planned by WindowPlanner, encoded in padded batches,
// stitched on the global frame grid (semantics in include/musefm/extract.h).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/strings.h"
#include "extract/window_plan.h"
#include "musefm/extract.h"

namespace musefm {
namespace {

// "all" / "weighted" -> every state; else comma-separated indices (negative from the end).
std::vector<int64_t> parse_layers(const std::string& spec, int64_t count) {
  std::vector<int64_t> out;
  if (spec == "all" || spec == "weighted") {
    for (int64_t i = 0; i < count; ++i) out.push_back(i);
    return out;
  }
  for (const std::string& item : detail::split_list(spec)) {
    int64_t v = 0;
    MUSEFM_CHECK(detail::parse_number(item, v), "layers: '", item,
                 "' is not an integer (expected all, weighted or e.g. 0,6,-1)");
    if (v < 0) v += count;
    MUSEFM_CHECK(v >= 0 && v < count, "layers: ", item, " is out of range: the model has ", count,
                 " hidden states (0..", count - 1, ")");
    out.push_back(v);
  }
  MUSEFM_CHECK(!out.empty(), "layers: no index given");
  return out;
}

extract_detail::WindowPlanner planner(const Extractor& ex) {
  const Encoder& enc = ex.encoder();
  return {ex.window_samples(), ex.hop_samples(), ex.frame_hop(),
          [&enc](int64_t n) { return enc.num_frames(n); }};
}

// Encodes `spans` of `inputs[owner[i]]`, `batch` windows per pass; returns each window's
// contributed frames [num_outputs, t, H].
std::vector<at::Tensor> encode_spans(const Extractor& ex, const std::vector<at::Tensor>& inputs,
                                     const std::vector<size_t>& owner,
                                     const std::vector<extract_detail::Span>& spans) {
  std::vector<at::Tensor> out(spans.size());
  const size_t batch = size_t(ex.config().batch);
  for (size_t first = 0; first < spans.size(); first += batch) {
    const size_t n = std::min(batch, spans.size() - first);
    std::vector<at::Tensor> windows;
    for (size_t i = first; i < first + n; ++i)
      windows.push_back(inputs[owner[i]].narrow(0, spans[i].start, spans[i].end - spans[i].start));
    const auto states = ex.encoder().forward_batch(windows, ex.states_needed());
    for (size_t i = first; i < first + n; ++i) {
      const auto& s = spans[i];
      const int64_t local = s.first_frame - s.start / ex.frame_hop();
      out[i] = ex.select(states[i - first]).narrow(1, local, s.end_frame - s.first_frame);
    }
  }
  return out;
}
}  // namespace

Extractor::Extractor(Encoder encoder, ExtractConfig config)
    : encoder_(std::move(encoder)), config_(std::move(config)) {
  config_.validate();
  encoder_ = encoder_.with_precision(config_.precision);
  const EncoderConfig& c = encoder_.config();
  const int64_t states = c.num_hidden_states();
  layers_ = parse_layers(config_.layers, states);
  if (config_.layers == "weighted") {
    std::vector<double> w = config_.layer_weights;
    if (w.empty()) w.assign(size_t(states), 1.0);
    MUSEFM_CHECK(int64_t(w.size()) == states, "layer_weights: ", w.size(),
                 " weights given, the model has ", states, " hidden states");
    weights_ = at::tensor(w, at::kDouble).to(at::kFloat);
    weights_ = weights_ / weights_.sum();
  }
  frame_hop_ = std::llround(c.sample_rate / c.frame_rate());
  if (config_.window_s > 0) {
    window_ = std::llround(config_.window_s * c.sample_rate);
    const int64_t window_frames = encoder_.num_frames(window_);
    MUSEFM_CHECK(window_frames >= 1, "window of ", config_.window_s,
                 " s is shorter than one frame of the model");
    const double hop_s = config_.hop_s > 0 ? config_.hop_s : config_.window_s;
    // Whole frames, and no gap: the next window must start before this one's frames end.
    hop_ = std::llround(hop_s * c.sample_rate) / frame_hop_ * frame_hop_;
    hop_ = std::clamp(hop_, frame_hop_, window_frames * frame_hop_);
  }
}

int Extractor::states_needed() const {
  return int(*std::max_element(layers_.begin(), layers_.end())) + 1;
}

int64_t Extractor::num_outputs() const { return weights_.defined() ? 1 : int64_t(layers_.size()); }

at::Tensor pool_frames(const at::Tensor& frames, Pool pool) {
  MUSEFM_CHECK(frames.dim() == 3, "pool_frames: frames must be [outputs, T, H], got ", frames.dim(),
               " dims");
  switch (pool) {
    case Pool::Mean:
      return frames.mean(1);
    case Pool::MeanStd:
      return at::cat({frames.mean(1), frames.std(1, /*unbiased=*/false)}, 1);
    case Pool::None:
      break;
  }
  return frames;
}

at::Tensor Extractor::select(const std::vector<at::Tensor>& states) const {
  if (weights_.defined()) {
    at::Tensor sum = states[0] * weights_[0].item<float>();
    for (size_t i = 1; i < states.size(); ++i)
      sum = sum + states[i] * weights_[int64_t(i)].item<float>();
    return sum.unsqueeze(0);
  }
  std::vector<at::Tensor> chosen;
  for (int64_t l : layers_) chosen.push_back(states[size_t(l)]);
  return at::stack(chosen);
}

std::vector<at::Tensor> Extractor::extract(const std::vector<at::Tensor>& waveforms) const {
  const auto plan = planner(*this);
  std::vector<extract_detail::Span> spans;
  std::vector<size_t> owner;
  std::vector<at::Tensor> inputs;
  for (size_t i = 0; i < waveforms.size(); ++i) {
    at::Tensor x = waveforms[i];
    MUSEFM_CHECK(x.dim() == 1, "Extractor: input ", i, " must be 1-D [L], got ", x.dim(), " dims");
    MUSEFM_CHECK(encoder_.num_frames(x.size(0)) >= 1, "Extractor: input ", i, " of ", x.size(0),
                 " samples is shorter than one frame");
    inputs.push_back(x.to(at::kFloat).contiguous());
    for (const auto& s : plan.plan(x.size(0))) {
      spans.push_back(s);
      owner.push_back(i);
    }
  }
  const std::vector<at::Tensor> pieces = encode_spans(*this, inputs, owner, spans);
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<at::Tensor> mine;
    for (size_t j = 0; j < spans.size(); ++j)
      if (owner[j] == i) mine.push_back(pieces[j]);
    at::Tensor frames = at::cat(mine, 1);
    out.push_back(pool_frames(frames, config_.pool));
  }
  return out;
}

at::Tensor Extractor::extract(const at::Tensor& waveform) const {
  return extract(std::vector<at::Tensor>{waveform})[0];
}

// ---- ExtractStream --------------------------------------------------------------------------

struct ExtractStream::State {
  const Extractor* ex = nullptr;
  std::vector<float> buffer;  // samples [buffer_start, accepted)
  int64_t buffer_start = 0, accepted = 0;
  int64_t next_start = 0, keep_from = 0, previous_start = 0, emitted = 0;
  bool flushed = false;

  at::Tensor samples(int64_t start, int64_t end) const {
    return at::from_blob(const_cast<float*>(buffer.data()) + (start - buffer_start), {end - start},
                         at::kFloat);
  }
  at::Tensor empty() const {
    return at::zeros({ex->num_outputs(), 0, ex->encoder().config().hidden_size});
  }
  // Drops samples no later window can need (the last window may reach back one window).
  void trim() {
    const int64_t fh = ex->frame_hop();  // keep buffer_start on the frame grid
    const int64_t keep = std::max<int64_t>(0, (next_start - ex->window_samples()) / fh * fh);
    if (keep - buffer_start > int64_t(buffer.size() / 2)) {
      buffer.erase(buffer.begin(), buffer.begin() + (keep - buffer_start));
      buffer_start = keep;
    }
  }
};

ExtractStream::ExtractStream(const Extractor& extractor) : state_(std::make_unique<State>()) {
  state_->ex = &extractor;
}
ExtractStream::ExtractStream(ExtractStream&&) noexcept = default;
ExtractStream& ExtractStream::operator=(ExtractStream&&) noexcept = default;
ExtractStream::~ExtractStream() = default;

ExtractStream Extractor::create_stream() const { return ExtractStream(*this); }

void ExtractStream::accept_waveform(const float* samples, size_t n) {
  MUSEFM_CHECK(!state_->flushed, "ExtractStream: accept_waveform after flush");
  state_->buffer.insert(state_->buffer.end(), samples, samples + n);
  state_->accepted += int64_t(n);
}

void ExtractStream::accept_waveform(const at::Tensor& samples) {
  MUSEFM_CHECK(samples.dim() == 1, "ExtractStream: samples must be 1-D, got ", samples.dim(),
               " dims");
  const at::Tensor x = samples.to(at::kCPU, at::kFloat).contiguous();
  accept_waveform(x.data_ptr<float>(), size_t(x.numel()));
}

at::Tensor ExtractStream::compute() {
  State& s = *state_;
  MUSEFM_CHECK(!s.flushed, "ExtractStream: compute after flush");
  const auto plan = planner(*s.ex);
  std::vector<extract_detail::Span> spans;
  while (plan.full_window_ready(s.next_start, s.accepted)) {
    spans.push_back(plan.full(s.next_start, s.keep_from));
    s.keep_from = spans.back().end_frame;
    s.previous_start = s.next_start;
    s.next_start += s.ex->hop_samples();
  }
  if (spans.empty()) return s.empty();
  const at::Tensor input = s.samples(s.buffer_start, s.accepted);
  for (auto& span : spans) {  // spans relative to the buffer
    span.start -= s.buffer_start;
    span.end -= s.buffer_start;
  }
  // Frame offsets are global: shift first/end frames by the buffer's frame offset.
  const int64_t shift = s.buffer_start / s.ex->frame_hop();
  for (auto& span : spans) {
    span.first_frame -= shift;
    span.end_frame -= shift;
  }
  const auto pieces = encode_spans(*s.ex, {input}, std::vector<size_t>(spans.size(), 0), spans);
  s.trim();
  at::Tensor out = at::cat(pieces, 1);
  s.emitted += out.size(1);
  return out;
}

at::Tensor ExtractStream::flush() {
  State& s = *state_;
  at::Tensor head = compute();
  s.flushed = true;
  const Extractor& ex = *s.ex;
  if (ex.encoder().num_frames(s.accepted) <= s.keep_from) {
    MUSEFM_CHECK(s.emitted + head.size(1) > 0, "ExtractStream: ", s.accepted,
                 " samples are shorter than one frame of the model");
    return head;
  }
  const auto plan = planner(ex);
  extract_detail::Span span = plan.last(s.accepted, s.keep_from, s.previous_start, s.next_start);
  span.start -= s.buffer_start;
  span.end -= s.buffer_start;
  const int64_t shift = s.buffer_start / ex.frame_hop();
  span.first_frame -= shift;
  span.end_frame -= shift;
  const at::Tensor input = s.samples(s.buffer_start, s.accepted);
  const at::Tensor tail = encode_spans(ex, {input}, {0}, {span})[0];
  s.emitted += tail.size(1);
  return at::cat({head, tail}, 1);
}

int64_t ExtractStream::frames_emitted() const { return state_->emitted; }
int64_t ExtractStream::samples_accepted() const { return state_->accepted; }
int64_t ExtractStream::samples_buffered() const { return int64_t(state_->buffer.size()); }

}  // namespace musefm
