// EnCodec SEANet encoder: layer list, weight spec and forward pass (encodec 0.1.1
// modules/seanet.py SEANetEncoder + SEANetResnetBlock, modules/conv.py SConv1d, pad1d,
// get_extra_padding_for_conv1d, modules/lstm.py SLSTM).
#include "codec/encodec_seanet.h"

#include <algorithm>

namespace musefm::codec_detail {
namespace {

std::string conv_name(const std::string& layer, const std::string& part = "") {
  return layer + (part.empty() ? "" : "." + part) + ".conv.conv";
}

int64_t ceil_div(int64_t a, int64_t b) {  // b > 0, any sign of a (math.ceil(a / b))
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// get_extra_padding_for_conv1d: right padding that makes the last window full.
int64_t extra_padding(int64_t length, int64_t kernel, int64_t stride, int64_t padding_total) {
  const int64_t frames = ceil_div(length - kernel + padding_total, stride) + 1;
  return (frames - 1) * stride + (kernel - padding_total) - length;
}

// pad1d: reflect padding zero-extends the input on the right first when it is not longer
// than the pad (reflection needs pad < length), and drops that extension afterwards.
at::Tensor pad1d(const at::Tensor& x, int64_t left, int64_t right, const std::string& mode) {
  if (left == 0 && right == 0) return x;
  if (mode != "reflect") return at::constant_pad_nd(x, {left, right}, 0.0);
  const int64_t length = x.size(-1), max_pad = std::max(left, right);
  const int64_t extra = length <= max_pad ? max_pad - length + 1 : 0;
  const at::Tensor base = extra ? at::constant_pad_nd(x, {0, extra}, 0.0) : x;
  const at::Tensor padded = at::reflection_pad1d(base, {left, right});
  return extra ? padded.narrow(-1, 0, padded.size(-1) - extra) : padded;
}

at::Tensor slstm(const at::Tensor& x, const SeanetLayer& layer, const Weights& w, int layers,
                 LstmState& state) {
  std::vector<at::Tensor> params;
  for (int n = 0; n < layers; ++n)
    for (const char* name : {"weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"})
      params.push_back(w.at(layer.prefix + ".lstm." + name + std::to_string(n)));
  const at::Tensor seq = x.permute({2, 0, 1});  // [T, B, C]
  if (!state.h.defined()) {
    state.h = at::zeros({layers, x.size(0), layer.channels}, x.options());
    state.c = state.h;
  }
  auto [y, h, c] = at::lstm(seq, {state.h, state.c}, params, /*has_biases=*/true, layers,
                            /*dropout=*/0.0, /*train=*/false, /*bidirectional=*/false,
                            /*batch_first=*/false);
  state.h = h;
  state.c = c;
  return (y + seq).permute({1, 2, 0});  // skip, back to [B, C, T]
}

}  // namespace

std::vector<SeanetLayer> seanet_layers(const EncodecConfig& c) {
  std::vector<SeanetLayer> layers;
  auto add = [&](SeanetLayer::Kind kind) -> SeanetLayer& {
    SeanetLayer l;
    l.kind = kind;
    l.prefix = "encoder.model." + std::to_string(layers.size());
    layers.push_back(std::move(l));
    return layers.back();
  };
  auto conv = [](std::string prefix, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                 int64_t dilation = 1) {
    return SConv{std::move(prefix), in, out, kernel, stride, dilation};
  };
  int64_t dim = c.n_filters;
  SeanetLayer& first = add(SeanetLayer::Kind::Conv);
  first.convs = {conv(conv_name(first.prefix), c.channels, dim, c.kernel_size)};
  for (auto r = c.ratios.rbegin(); r != c.ratios.rend(); ++r) {
    int64_t dilation = 1;
    for (int j = 0; j < c.n_residual_layers; ++j, dilation *= c.dilation_base) {
      SeanetLayer& res = add(SeanetLayer::Kind::Residual);
      const int64_t hidden = dim / c.compress;
      res.convs = {
          conv(conv_name(res.prefix, "block.1"), dim, hidden, c.residual_kernel_size, 1, dilation),
          conv(conv_name(res.prefix, "block.3"), hidden, dim, 1)};
      if (!c.true_skip) res.convs.push_back(conv(conv_name(res.prefix, "shortcut"), dim, dim, 1));
    }
    add(SeanetLayer::Kind::Elu);
    SeanetLayer& down = add(SeanetLayer::Kind::Conv);
    down.convs = {conv(conv_name(down.prefix), dim, 2 * dim, 2 * int64_t(*r), *r)};
    dim *= 2;
  }
  if (c.lstm_layers > 0) add(SeanetLayer::Kind::Lstm).channels = dim;
  add(SeanetLayer::Kind::Elu);
  SeanetLayer& last = add(SeanetLayer::Kind::Conv);
  last.convs = {conv(conv_name(last.prefix), dim, c.dimension, c.last_kernel_size)};
  return layers;
}

model_detail::WeightSpec encodec_weight_spec(const EncodecConfig& c,
                                             const std::vector<SeanetLayer>& layers) {
  model_detail::WeightSpec spec;
  auto& s = spec.shapes;
  for (const SeanetLayer& layer : layers) {
    for (const SConv& conv : layer.convs) {
      s[conv.prefix + ".weight"] = {conv.out, conv.in, conv.kernel};
      s[conv.prefix + ".bias"] = {conv.out};
    }
    if (layer.kind != SeanetLayer::Kind::Lstm) continue;
    const int64_t h = layer.channels;
    for (int n = 0; n < c.lstm_layers; ++n) {
      const std::string p = layer.prefix + ".lstm.", l = "_l" + std::to_string(n);
      s[p + "weight_ih" + l] = {4 * h, h};
      s[p + "weight_hh" + l] = {4 * h, h};
      s[p + "bias_ih" + l] = {4 * h};
      s[p + "bias_hh" + l] = {4 * h};
    }
  }
  for (int q = 0; q < c.n_q; ++q) {
    const std::string p = "quantizer.vq.layers." + std::to_string(q) + "._codebook.";
    s[p + "embed"] = {c.bins, c.dimension};
    s[p + "inited"] = {1};
    s[p + "cluster_size"] = {c.bins};
    s[p + "embed_avg"] = {c.bins, c.dimension};
    for (const char* buffer : {"inited", "cluster_size", "embed_avg"})
      spec.optional.insert(p + buffer);
    spec.unused.insert(p + "cluster_size");
    spec.unused.insert(p + "embed_avg");
  }
  return spec;
}

at::Tensor sconv1d(const at::Tensor& x, const SConv& conv, const Weights& w,
                   const EncodecConfig& c) {
  const int64_t total = (conv.kernel - 1) * conv.dilation - (conv.stride - 1);
  const int64_t extra = extra_padding(x.size(-1), conv.kernel, conv.stride, total);
  const int64_t right = c.causal ? 0 : total / 2;
  const at::Tensor padded = pad1d(x, total - right, right + extra, to_string(c.pad_mode));
  const int64_t stride[] = {conv.stride}, padding[] = {0}, dilation[] = {conv.dilation};
  return at::conv1d(padded, w.at(conv.prefix + ".weight"), w.at(conv.prefix + ".bias"), stride,
                    padding, dilation);
}

int64_t history(const std::vector<SeanetLayer>& layers, size_t begin, size_t end) {
  int64_t steps = 0, rate = 1;
  for (size_t i = begin; i < end; ++i) {
    const SeanetLayer& layer = layers[i];
    if (layer.kind == SeanetLayer::Kind::Lstm) return -1;
    const size_t used = layer.kind == SeanetLayer::Kind::Residual ? 2 : layer.convs.size();
    for (size_t j = 0; j < used; ++j)  // a residual block's shortcut is 1x1: no history
      steps += (layer.convs[j].kernel - 1) * layer.convs[j].dilation * rate;
    if (layer.kind == SeanetLayer::Kind::Conv) rate *= layer.convs[0].stride;
  }
  return steps;
}

at::Tensor run_layers(const EncodecConfig& c, const std::vector<SeanetLayer>& layers, size_t begin,
                      size_t end, const Weights& w, at::Tensor h, LstmState& state) {
  for (size_t i = begin; i < end; ++i) {
    const SeanetLayer& layer = layers[i];
    switch (layer.kind) {
      case SeanetLayer::Kind::Conv:
        h = sconv1d(h, layer.convs[0], w, c);
        break;
      case SeanetLayer::Kind::Elu:
        h = at::elu(h);
        break;
      case SeanetLayer::Kind::Lstm:
        h = slstm(h, layer, w, c.lstm_layers, state);
        break;
      case SeanetLayer::Kind::Residual: {
        at::Tensor y = h;
        for (size_t j = 0; j < 2; ++j) y = sconv1d(at::elu(y), layer.convs[j], w, c);
        h = (c.true_skip ? h : sconv1d(h, layer.convs[2], w, c)) + y;
        break;
      }
    }
  }
  return h;
}

}  // namespace musefm::codec_detail
