// Trainable masked-prediction model: parameters, HF-style initialisation, forward + loss.
//   cosine (HuBERT / MERT, fairseq hubert.py): logits_c = cos(final_proj(x)_c, label_embs_c) / T
//   linear (MusicFM): logits_c = linear_c(x)
// Loss of an update = (sum_c CE_c + cqt_weight * SSE_cqt / bins) / masked frames
//                     + feature_pen_weight * mean(conv features^2)
// (fairseq's hubert criterion: extra losses x sample_size, the sum divided by sample_size).
#include "train/model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "model/family.h"

namespace musefm::train_detail {
namespace md = model_detail;
namespace {
bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}
bool contains(const std::string& s, const std::string& t) { return s.find(t) != std::string::npos; }
// Every dim of a `rank`-dim weight but `keep` (the dims a weight norm reduces over).
std::vector<int64_t> dims_but(int64_t rank, int64_t keep) {
  std::vector<int64_t> d;
  for (int64_t i = 0; i < rank; ++i)
    if (i != keep) d.push_back(i);
  return d;
}
// objective.cqt_target = "log": log(1 + |CQT| / 1e-3), so that -60 dB re full scale maps to 0.
constexpr double kLogCqtScale = 1e3;
}  // namespace

std::map<std::string, std::vector<int64_t>> trainable_shapes(
    const PretrainConfig& c, const std::vector<int64_t>& k,
    std::map<std::string, std::vector<int64_t>>* buffers) {
  const EncoderConfig& m = c.model;
  const md::ModelFamily& family = md::family_for(m);
  const md::WeightSpec spec = family.weight_spec(m);
  const std::string mask_emb = family.mask_embedding();
  std::map<std::string, std::vector<int64_t>> s;
  const int64_t H = m.hidden_size;
  for (const auto& [name, shape] : spec.shapes) {
    // Not trained: inference-unused tensors (but the mask embedding), and optional ones the
    // forward pass derives when absent (MusicFM's rotary frequencies).
    if (name != mask_emb && (spec.unused.count(name) || spec.optional.count(name))) continue;
    if (ends_with(name, ".running_mean") || ends_with(name, ".running_var")) {
      if (buffers) (*buffers)[name] = shape;
      continue;
    }
    s[name] = shape;
  }
  for (const md::WeightNormed& wn : family.weight_norms(m)) {  // trained as g / v
    const std::vector<int64_t> v = s.at(wn.prefix + ".weight");
    std::vector<int64_t> g(v.size(), 1);
    g[size_t(wn.dim)] = v[size_t(wn.dim)];
    s.erase(wn.prefix + ".weight");
    s[wn.prefix + ".weight_g"] = g;
    s[wn.prefix + ".weight_v"] = v;
  }
  // Projections the forward pass reads fused are trained fused.
  for (const md::FusedProjection& f : family.fused_projections(m)) {
    for (const auto& part : f.parts) {
      s.erase(f.prefix + part + ".weight");
      s.erase(f.prefix + part + ".bias");
    }
    s[f.prefix + f.fused + ".weight"] = {int64_t(f.parts.size()) * H, H};
    s[f.prefix + f.fused + ".bias"] = {int64_t(f.parts.size()) * H};
  }
  const auto& o = c.objective;
  int64_t total_k = 0;
  for (int64_t v : k) total_k += v;
  if (o.prediction == Prediction::Cosine) {
    s["final_proj.weight"] = {o.final_dim * int64_t(k.size()), H};
    s["final_proj.bias"] = {o.final_dim * int64_t(k.size())};
    s["label_embs_concat"] = {total_k, o.final_dim};
  } else {
    for (size_t i = 0; i < k.size(); ++i) {
      const std::string p = k.size() == 1 ? "linear" : "linear_" + std::to_string(i);
      s[p + ".weight"] = {k[i], H};
      s[p + ".bias"] = {k[i]};
    }
  }
  if (o.cqt_weight > 0) {
    s["cqt_head.weight"] = {336, H};
    s["cqt_head.bias"] = {336};
  }
  if (o.masking != Masking::Span && !mask_emb.empty()) s.erase(mask_emb);
  return s;
}

PretrainModel::PretrainModel(const PretrainConfig& c, std::vector<int64_t> codebook_sizes,
                             at::Device device)
    : c_(c),
      k_(std::move(codebook_sizes)),
      device_(device),
      family_(md::family_for(c.model)),
      pass_(family_.forward_pass(c.model)) {
  std::map<std::string, std::vector<int64_t>> bufs;
  const auto shapes = trainable_shapes(c, k_, &bufs);
  const auto opts = at::TensorOptions(device).dtype(at::kFloat);
  for (const auto& [name, shape] : shapes) {
    at::Tensor t = at::zeros(shape, opts).requires_grad_(true);
    params_.emplace_back(name, t);
    by_name_[name] = t;
  }
  for (const auto& [name, shape] : bufs) {
    at::Tensor t =
        (ends_with(name, "running_var") ? at::ones(shape, opts) : at::zeros(shape, opts));
    buffers_.emplace_back(name, t);
    by_name_[name] = t;
  }
  if (c.objective.cqt_weight > 0) cqt_.emplace(c.model.sample_rate, c.model.frame_rate());
}

int64_t PretrainModel::conv_channels() const { return family_.feature_channels(c_.model); }

std::vector<std::string> PretrainModel::sum_names() const {
  std::vector<std::string> n;
  for (const auto& l : c_.data.labels) n.push_back("ce:" + l);
  for (const auto& l : c_.data.labels) n.push_back("correct:" + l);
  n.push_back("cqt");
  n.push_back("features_pen");
  return n;
}

void PretrainModel::init(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t H = c_.model.hidden_size;
  at::NoGradGuard no_grad;
  for (auto& [name, p] : params_) {
    at::Tensor v = at::empty(p.sizes(), at::kFloat);
    if (ends_with(name, ".bias")) {
      v.zero_();
    } else if (contains(name, "layer_norm") || contains(name, ".bn") ||
               contains(name, "batch_norm")) {
      v.fill_(1.0);
    } else if (name == "masked_spec_embed" || name == "label_embs_concat") {
      v.uniform_(0, 1, gen);  // HF masked_spec_embed.uniform_(), fairseq label_embs uniform_()
    } else if (ends_with(name, ".weight_v")) {  // HF: normal(0, 2 / sqrt(K * H))
      v.normal_(0, 2.0 / std::sqrt(double(c_.model.num_conv_pos_embeddings) * H), gen);
    } else if (ends_with(name, ".weight_g")) {
      continue;                 // set from weight_v below (weight = v at initialisation)
    } else if (p.dim() >= 3) {  // convolutions: kaiming normal, fan in
      const int64_t fan_in = p.numel() / p.size(0);
      v.normal_(0, std::sqrt(2.0 / double(fan_in)), gen);
    } else {  // linear layers
      v.normal_(0, 0.02, gen);
    }
    p.copy_(v);
  }
  for (const md::WeightNormed& wn : family_.weight_norms(c_.model)) {
    const at::Tensor v = by_name_.at(wn.prefix + ".weight_v");
    by_name_.at(wn.prefix + ".weight_g")
        .copy_(v.square().sum(dims_but(v.dim(), wn.dim), true).sqrt());
  }
  for (auto& [name, b] : buffers_) ends_with(name, "running_var") ? b.fill_(1.0) : b.zero_();
}

md::Weights PretrainModel::current_weights() const {
  md::Weights w(by_name_.begin(), by_name_.end());
  for (const md::WeightNormed& wn : family_.weight_norms(c_.model)) {  // differentiable
    const at::Tensor& v = w.at(wn.prefix + ".weight_v");
    w[wn.prefix + ".weight"] =
        w.at(wn.prefix + ".weight_g") * v / v.square().sum(dims_but(v.dim(), wn.dim), true).sqrt();
  }
  return w;
}

at::Tensor PretrainModel::encode(const at::Tensor& audio, const at::Tensor& mask, int64_t frames,
                                 const md::ForwardContext& ctx, at::Tensor* features) const {
  md::ForwardContext o = ctx;
  o.features_out = features;
  const std::string mask_emb = family_.mask_embedding();
  if (!mask_emb.empty() && by_name_.count(mask_emb)) {  // masking "span": learned embedding
    const at::Tensor emb = by_name_.at(mask_emb);
    o.after_projection = [emb, mask, frames](const at::Tensor& h) {
      at::Tensor m = at::zeros({h.size(0), h.size(1)}, mask.options());
      m.narrow(1, 0, frames).copy_(mask);
      return at::where(m.unsqueeze(-1), emb.to(h.scalar_type()).view({1, 1, -1}), h);
    };
  }
  return pass_->forward(current_weights(), audio, o).back().narrow(1, 0, frames);
}

std::pair<at::Tensor, LossSums> PretrainModel::forward(
    const at::Tensor& audio, const at::Tensor& clean, const std::vector<at::Tensor>& targets,
    const at::Tensor& mask, const LossScale& scale, bool training) const {
  const auto& o = c_.objective;
  md::ForwardContext fo;
  fo.training = training;
  fo.dropout = o.dropout;
  fo.attention_dropout = o.attention_dropout;
  fo.activation_dropout = o.activation_dropout;
  fo.dropout_input = o.dropout_input;
  fo.layerdrop = o.layerdrop;
  fo.feature_grad_mult = o.feature_grad_mult;
  const int64_t T = mask.size(1), C = int64_t(k_.size());
  const at::Tensor dev_mask = mask.to(device_);
  at::Tensor features;
  const at::Tensor x = encode(audio.to(device_), dev_mask, T, fo, &features);
  const at::Tensor xm = x.index({dev_mask}).to(at::kFloat);  // [M, H]
  at::Tensor loss = at::zeros({}, x.options().dtype(at::kFloat));
  const auto sums_opts = at::TensorOptions(device_).dtype(at::kDouble);
  std::vector<at::Tensor> parts, correct;
  at::Tensor proj;
  if (o.prediction == Prediction::Cosine)
    proj = at::linear(xm, by_name_.at("final_proj.weight"), by_name_.at("final_proj.bias"));
  int64_t offset = 0;
  for (int64_t i = 0; i < C; ++i) {
    const at::Tensor target = targets[size_t(i)].to(device_).index({dev_mask});
    at::Tensor logits;
    if (o.prediction == Prediction::Cosine) {
      const at::Tensor p = proj.narrow(1, i * o.final_dim, o.final_dim);
      const at::Tensor e = by_name_.at("label_embs_concat").narrow(0, offset, k_[size_t(i)]);
      const at::Tensor pn = p / p.norm(2, {1}, true).clamp_min(1e-8);
      const at::Tensor en = e / e.norm(2, {1}, true).clamp_min(1e-8);
      logits = at::matmul(pn, en.t()) / o.logit_temp;
      offset += k_[size_t(i)];
    } else {
      const std::string p = C == 1 ? "linear" : "linear_" + std::to_string(i);
      logits = at::linear(xm, by_name_.at(p + ".weight"), by_name_.at(p + ".bias"));
    }
    const at::Tensor ce = at::cross_entropy_loss(logits, target, {}, at::Reduction::Sum);
    loss = loss + ce / scale.masked;
    parts.push_back(ce.detach().to(at::kDouble).reshape({1}));
    correct.push_back((logits.detach().argmax(1) == target).sum().to(at::kDouble).reshape({1}));
  }
  parts.insert(parts.end(), correct.begin(), correct.end());
  if (cqt_) {
    at::Tensor target;
    {
      at::NoGradGuard no_grad;
      target = (*cqt_)(clean.to(device_), T);
      target = o.cqt_frames == CqtFrames::All ? target.flatten(0, 1) : target.index({dev_mask});
      if (o.cqt_target == CqtTargetScale::Log) target = at::log1p(target * kLogCqtScale);
    }
    const at::Tensor rows = o.cqt_frames == CqtFrames::All ? x.flatten(0, 1).to(at::kFloat) : xm;
    const at::Tensor pred =
        at::linear(rows, by_name_.at("cqt_head.weight"), by_name_.at("cqt_head.bias"));
    const at::Tensor sse = (pred - target).square().sum() / double(cqt_->bins());
    loss = loss + o.cqt_weight * sse / scale.masked;
    parts.push_back(sse.detach().to(at::kDouble).reshape({1}));
  } else {
    parts.push_back(at::zeros({1}, sums_opts));
  }
  if (features.defined()) {
    const at::Tensor pen = features.to(at::kFloat).square().sum();
    if (o.feature_pen_weight > 0) loss = loss + o.feature_pen_weight * pen / scale.feature_elems;
    parts.push_back(pen.detach().to(at::kDouble).reshape({1}));
  } else {
    parts.push_back(at::zeros({1}, sums_opts));
  }
  return {loss, LossSums{at::cat(parts).cpu()}};
}

md::Weights PretrainModel::encoder_weights() const {
  at::NoGradGuard no_grad;
  md::Weights out;
  const int64_t H = c_.model.hidden_size;
  // Trained fused projection name -> its suffix and the parts it splits into.
  std::map<std::string, std::pair<std::string, const md::FusedProjection*>> fused;
  const std::vector<md::FusedProjection> projections = family_.fused_projections(c_.model);
  for (const md::FusedProjection& f : projections)
    for (const char* t : {".weight", ".bias"}) fused[f.prefix + f.fused + t] = {t, &f};
  for (const auto& [name, t] : by_name_) {
    const at::Tensor v = t.detach().to(at::kCPU).contiguous();
    if (contains(name, "final_proj") || name == "label_embs_concat" || contains(name, "cqt_head") ||
        name == "linear.weight" || name == "linear.bias" || name.rfind("linear_", 0) == 0) {
      continue;  // heads: training only
    }
    if (auto it = fused.find(name); it != fused.end()) {  // split into the checkpoint's parts
      const auto& [suffix, f] = it->second;
      for (size_t i = 0; i < f->parts.size(); ++i)
        out[f->prefix + f->parts[i] + suffix] = v.narrow(0, int64_t(i) * H, H).clone();
    } else {
      out[name] = v.clone();
    }
  }
  for (const auto& [name, b] : buffers_)  // BatchNorm statistics (MusicFM)
    out[name.substr(0, name.rfind('.')) + ".num_batches_tracked"] = at::zeros({}, at::kLong);
  return out;
}

}  // namespace musefm::train_detail
