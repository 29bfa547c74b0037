// AdamW (torch.optim.AdamW's fused update) and gradient-norm helpers, shared by pretraining
// and the probes' MLP.
#include "core/adamw.h"

#include <ATen/core/grad_mode.h>

#include <map>

#include "musefm/error.h"

namespace musefm::detail {

AdamW::AdamW(const AdamWOptions& o, const NamedTensors& params) : o_(o), params_(params) {
  for (const auto& [name, p] : params_) {
    m_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous).detach());
    v_.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous).detach());
    step_.push_back(at::zeros({}, p.options().dtype(at::kFloat)).detach());
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++steps_;
  std::vector<at::Tensor> p, g;
  for (const auto& [name, t] : params_) {
    p.push_back(t);
    g.push_back(t.grad());
  }
  // torch.optim.AdamW(fused=True): one pass per tensor for
  //   p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  //   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
  at::_foreach_add_(step_, 1.0);
  at::_fused_adamw_(p, g, m_, v_, {}, step_, lr, o_.beta1, o_.beta2, o_.weight_decay, o_.eps,
                    /*amsgrad=*/false, /*maximize=*/false);
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("adam_m/" + params_[i].first, m_[i]);
    out.emplace_back("adam_v/" + params_[i].first, v_[i]);
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& tensors, int64_t steps) {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& n = params_[i].first;
    for (auto [prefix, dst] : {std::pair{"adam_m/", &m_[i]}, {"adam_v/", &v_[i]}}) {
      auto it = tensors.find(prefix + n);
      MUSEFM_CHECK(it != tensors.end(), "checkpoint: optimiser state '", prefix, n, "' is missing");
      MUSEFM_CHECK(it->second.sizes() == dst->sizes(), "checkpoint: optimiser state '", prefix, n,
                   "' has shape ", it->second.sizes(), ", expected ", dst->sizes());
      dst->copy_(it->second);
    }
  }
  steps_ = steps;
  for (auto& t : step_) t.fill_(double(steps));
}

double gradient_norm(const NamedTensors& params) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> g;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) g.push_back(p.grad());
  if (g.empty()) return 0;
  return at::stack(at::_foreach_norm(g, 2)).to(at::kDouble).norm().item<double>();
}

void scale_gradients(const NamedTensors& params, double factor) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> g;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) g.push_back(p.grad());
  at::_foreach_mul_(g, factor);
}

}  // namespace musefm::detail
