// The L2 linear probe: softmax / logistic regression by full-batch L-BFGS in float64 (also for
// the learned weighted sum of layers) and closed-form ridge for a single layer's regression.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <sstream>

#include "probe/probe_detail.h"

namespace musefm::probe_detail {
namespace {

using Objective = std::function<double(const at::Tensor& x, at::Tensor& grad)>;

// Minimises a smooth function by L-BFGS (history 10, backtracking Armijo line search) until
// max |grad| < tol or the decrease stalls. Returns the iterations run.
int lbfgs(const Objective& fg, at::Tensor& x, int max_iter, double tol) {
  at::Tensor g;
  double f = fg(x, g);
  std::deque<at::Tensor> S, Y;
  std::deque<double> rho;
  int it = 0;
  for (; it < max_iter; ++it) {
    if (g.abs().max().item<double>() < tol) break;
    at::Tensor q = g.clone();
    std::vector<double> alpha(S.size());
    for (size_t i = S.size(); i-- > 0;) {
      alpha[i] = rho[i] * at::dot(S[i], q).item<double>();
      q.sub_(Y[i], alpha[i]);
    }
    double t = 1.0;
    if (!S.empty()) {
      q.mul_(at::dot(S.back(), Y.back()).item<double>() /
             at::dot(Y.back(), Y.back()).item<double>());
    } else {
      t = std::min(1.0, 1.0 / g.abs().sum().item<double>());
    }
    for (size_t i = 0; i < S.size(); ++i) {
      const double beta = rho[i] * at::dot(Y[i], q).item<double>();
      q.add_(S[i], alpha[i] - beta);
    }
    at::Tensor d = -q;
    double gd = at::dot(g, d).item<double>();
    if (!(gd < 0)) {  // not a descent direction: restart from steepest descent
      S.clear(), Y.clear(), rho.clear();
      d = -g;
      gd = -at::dot(g, g).item<double>();
    }
    at::Tensor xn, gn;
    double fn = f;
    bool ok = false;
    for (int ls = 0; ls < 40; ++ls, t *= 0.5) {
      xn = x + t * d;
      fn = fg(xn, gn);
      if (std::isfinite(fn) && fn <= f + 1e-4 * t * gd) {
        ok = true;
        break;
      }
    }
    if (!ok) break;
    at::Tensor s = xn - x, y = gn - g;
    const double sy = at::dot(s, y).item<double>();
    if (sy > 1e-12 * at::dot(y, y).item<double>()) {
      S.push_back(s), Y.push_back(y), rho.push_back(1.0 / sy);
      if (S.size() > 10) S.pop_front(), Y.pop_front(), rho.pop_front();
    }
    const bool stalled = f - fn <= 1e-13 * std::max({std::abs(f), std::abs(fn), 1.0});
    x = xn, g = gn, f = fn;
    if (stalled) break;
  }
  return it;
}

// Linear head parameters packed in one float64 vector: W [H, C], b [C], layer logits [L'].
struct LinearLayout {
  int64_t H, C, L;
  at::Tensor W(const at::Tensor& v) const { return v.narrow(0, 0, H * C).view({H, C}); }
  at::Tensor b(const at::Tensor& v) const { return v.narrow(0, H * C, C); }
  at::Tensor a(const at::Tensor& v) const { return v.narrow(0, H * C + C, L); }
  int64_t size() const { return H * C + C + L; }
};

// Logits of rows `x`. A weighted sum is re-standardised with the statistics of the weighted
// train rows `train`: with an L2 penalty on W, an unnormalised average (of smaller variance
// than its parts) would make every mixture cost more than a single layer and push the learned
// weights to a corner of the simplex.
at::Tensor linear_logits(const LinearLayout& lay, const at::Tensor& v, const at::Tensor& x,
                         const at::Tensor& train) {
  at::Tensor m = mix(x, lay.a(v));
  if (x.size(1) > 1) {
    const at::Tensor t = &x == &train ? m : mix(train, lay.a(v));
    const at::Tensor sd = t.std(0, /*unbiased=*/false, true);
    m = (m - t.mean(0, true)) / at::where(sd > 1e-12, sd, at::ones_like(sd));
  }
  return at::addmm(lay.b(v), m, lay.W(v));
}

// Closed-form ridge on one layer: W = (X'X + l2 I)^-1 X'y, b = 0 (X and y centred on train).
at::Tensor ridge(const Problem& p, double l2) {
  const at::Tensor x = p.train.x.select(1, 0);
  const at::Tensor a = at::mm(x.t(), x) + l2 * at::eye(p.dim, x.options());
  const at::Tensor w = at::linalg_solve(a, at::mm(x.t(), p.y));
  LinearLayout lay{p.dim, p.outputs, 1};
  at::Tensor v = at::zeros({lay.size()}, x.options());
  lay.W(v).copy_(w);
  return v;
}

}  // namespace

ProbeScores run_linear(const Problem& p, const ProbeConfig& cfg) {
  const LinearLayout lay{p.dim, p.outputs, p.layers};
  const double n = double(p.train.x.size(0));
  const bool closed_form = p.task->type == ProbeTaskType::Regression && p.layers == 1;
  std::vector<double> grid = cfg.l2_grid;
  std::sort(grid.rbegin(), grid.rend());  // strongest first: each solution warm-starts the next
  at::Tensor v = at::zeros({lay.size()}, p.train.x.options());
  double best = kNegInf;
  at::Tensor best_v;
  double best_l2 = grid.front();
  int best_iters = 0;
  for (double l2 : grid) {
    int iters = 0;
    if (closed_form) {
      v = ridge(p, l2);
    } else {
      bool freeze_mix = false;
      const Objective fg = [&](const at::Tensor& x, at::Tensor& grad) {
        at::AutoGradMode grad_on(true);
        at::Tensor q = x.detach().clone().requires_grad_(true);
        const at::Tensor w = lay.W(q);
        at::Tensor loss = data_loss(p, linear_logits(lay, q, p.train.x, p.train.x), p.y, true) +
                          (0.5 * l2 / n) * (w * w).sum();
        loss.backward();
        grad = q.grad().detach();
        if (freeze_mix) lay.a(grad).zero_();
        return loss.item<double>();
      };
      if (p.layers > 1) {
        // Weighted sum (non-convex): from uniform layer weights, first the head alone (convex),
        // then everything; each strength starts afresh so a saturated softmax is not inherited.
        v.zero_();
        freeze_mix = true;
        iters = lbfgs(fg, v, cfg.lbfgs_max_iter, cfg.lbfgs_tol);
        freeze_mix = false;
      }
      iters += lbfgs(fg, v, cfg.lbfgs_max_iter, cfg.lbfgs_tol);
    }
    at::NoGradGuard no_grad;
    const double s =
        select_score(p, p.valid, to_outputs(p, linear_logits(lay, v, p.valid.x, p.train.x)));
    if (s > best || !best_v.defined())
      best = s, best_v = v.clone(), best_l2 = l2, best_iters = iters;
  }
  at::NoGradGuard no_grad;
  ProbeScores out;
  select_score(p, p.valid, to_outputs(p, linear_logits(lay, best_v, p.valid.x, p.train.x)),
               &out.valid);
  select_score(p, p.test, to_outputs(p, linear_logits(lay, best_v, p.test.x, p.train.x)),
               &out.test);
  std::ostringstream sel;
  sel << "l2=" << best_l2;
  out.selected = sel.str();
  out.epochs = best_iters;
  if (p.layers > 1) {
    const at::Tensor w = at::softmax(lay.a(best_v), 0).to(at::kCPU, at::kDouble).contiguous();
    out.layer_weights.assign(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
  }
  return out;
}

}  // namespace musefm::probe_detail
