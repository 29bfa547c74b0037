// The SEANet encoder pass in chunks: memory bounded by the chunk, same output as one pass.
//
// Why it is exact (causal models): every layer before the LSTM is a causal convolution or
// pointwise, so an output frame depends only on the `history` input samples before it. A chunk
// that starts `front` frames early (hop-aligned, so every strided convolution sees the same
// phase as in one pass) reproduces its frames once those first `front` are dropped. Chunks
// other than the last are whole hops long, so no layer pads on the right inside the input.
// The LSTM runs over the chunks in order with its state carried; the layers after it (ELU,
// last conv) get the previous chunk's last frames as context. The first chunk starts at
// sample 0 exactly as the one-pass encoder does: the reflect padding there reads the next few
// values of each layer's input, which the chunk holds (it is longer than any pad).
#include <algorithm>

#include "codec/encodec_seanet.h"

namespace musefm::codec_detail {

at::Tensor seanet_forward(const EncodecConfig& c, const std::vector<SeanetLayer>& layers,
                          const Weights& w, const at::Tensor& x, int64_t chunk_frames) {
  LstmState state;
  const size_t n = layers.size();
  size_t lstm = 0;
  while (lstm < n && layers[lstm].kind != SeanetLayer::Kind::Lstm) ++lstm;
  const int64_t samples = x.size(-1), frames = c.num_frames(samples), hop = c.hop_length();
  const int64_t front = (history(layers, 0, lstm) + hop - 1) / hop + 1;  // frames of context
  const int64_t tail = lstm < n ? history(layers, lstm + 1, n) : 0;
  if (chunk_frames > 0) chunk_frames = std::max(chunk_frames, std::max(front, tail) + 1);
  if (!c.causal || chunk_frames <= 0 || frames <= chunk_frames)
    return run_layers(c, layers, 0, n, w, x, state);

  std::vector<at::Tensor> out;
  at::Tensor carry;  // the last `tail` frames of the previous chunk's LSTM output
  for (int64_t f0 = 0; f0 < frames; f0 += chunk_frames) {
    const int64_t f1 = std::min(frames, f0 + chunk_frames), c0 = std::max<int64_t>(0, f0 - front);
    const at::Tensor piece = x.narrow(-1, c0 * hop, std::min(samples, f1 * hop) - c0 * hop);
    at::Tensor h = run_layers(c, layers, 0, lstm, w, piece, state).narrow(-1, f0 - c0, f1 - f0);
    if (lstm == n) {
      out.push_back(h);
      continue;
    }
    h = run_layers(c, layers, lstm, lstm + 1, w, h, state);
    const at::Tensor tail_in = carry.defined() ? at::cat({carry, h}, -1) : h;
    const int64_t skip = tail_in.size(-1) - (f1 - f0);
    out.push_back(run_layers(c, layers, lstm + 1, n, w, tail_in, state).narrow(-1, skip, f1 - f0));
    const int64_t keep = std::min(tail, tail_in.size(-1));
    carry = tail_in.narrow(-1, tail_in.size(-1) - keep, keep).clone();
  }
  return at::cat(out, -1);
}

}  // namespace musefm::codec_detail
