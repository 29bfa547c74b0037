// Internal: EnCodec's SEANet encoder (encodec/modules/seanet.py, conv.py, lstm.py) as a list of
// layers shared by the weight spec and the forward pass, so that names, shapes and the
// computation come from one description.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/weights.h"
#include "musefm/codec.h"

namespace musefm::codec_detail {

using model_detail::Weights;

/// One SConv1d: `prefix`.weight [out, in, kernel] (weight-normed in checkpoints) and .bias.
struct SConv {
  std::string prefix;  ///< e.g. "encoder.model.0.conv.conv"
  int64_t in = 0, out = 0, kernel = 1, stride = 1, dilation = 1;
};

/// One entry of SEANetEncoder.model ("encoder.model.<index>").
struct SeanetLayer {
  enum class Kind { Conv, Residual, Elu, Lstm };
  Kind kind = Kind::Elu;
  std::string prefix;  ///< "encoder.model.<index>"
  /// Conv: the conv. Residual: the block's convs in order (each preceded by an ELU), then the
  /// 1x1 shortcut unless true_skip.
  std::vector<SConv> convs;
  int64_t channels = 0;  ///< Lstm: hidden size (= input size)
};

/// encoder.model of SEANetEncoder with this config, in order.
std::vector<SeanetLayer> seanet_layers(const EncodecConfig& c);

/// Every encoder and quantiser tensor of a checkpoint (weight norm folded: `<conv>.weight`),
/// with the codebooks' training buffers (inited, cluster_size, embed_avg) optional and unused
/// except `inited`, which is kept for the load-time check.
model_detail::WeightSpec encodec_weight_spec(const EncodecConfig& c,
                                             const std::vector<SeanetLayer>& layers);

/// SConv1d.forward: causal (all padding on the left) or centred padding of
/// (kernel - 1) * dilation - (stride - 1) samples plus the right-side extra that makes the last
/// window full (get_extra_padding_for_conv1d), in `pad_mode` (pad1d: reflect zero-extends an
/// input shorter than the pad first), then the convolution.
at::Tensor sconv1d(const at::Tensor& x, const SConv& conv, const Weights& w,
                   const EncodecConfig& c);

/// LSTM state carried from one chunk to the next: (h, c), each [layers, B, H]; undefined =
/// zeros (the start of the input).
struct LstmState {
  at::Tensor h, c;
};

/// Runs layers [begin, end) on x [B, C, T]; an LSTM among them starts from `state` and leaves
/// its final state there.
at::Tensor run_layers(const EncodecConfig& c, const std::vector<SeanetLayer>& layers, size_t begin,
                      size_t end, const Weights& w, at::Tensor x, LstmState& state);

/// Steps of the input of layer `begin` that an output of layers [begin, end) depends on besides
/// its own (causal convolutions: all in the past); -1 when the range holds the LSTM.
int64_t history(const std::vector<SeanetLayer>& layers, size_t begin, size_t end);

/// SEANetEncoder.forward: x [B, 1, L] -> [B, dimension, ceil(L / hop)], computed in chunks of
/// `chunk_frames` output frames (see EncodecTeacher::encode; one pass when the input is no
/// longer or the model is not causal).
at::Tensor seanet_forward(const EncodecConfig& c, const std::vector<SeanetLayer>& layers,
                          const Weights& w, const at::Tensor& x, int64_t chunk_frames);

}  // namespace musefm::codec_detail
