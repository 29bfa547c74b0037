// Attention dispatcher: the three implementations of kernels/attention.h and the autograd
// function of the fused CPU kernel (forward saves lse; backward = dK/dV pass + dQ pass).
#include "attention.h"
#include "nearest.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "cpu/flash_problem.h"
#include "musefm/error.h"

namespace musefm::kernels {
namespace {

using cpu::FlashKernels;
using cpu::FlashProblem;

bool cpu_has(const std::string& isa) {
#ifdef MUSEFM_X86_KERNELS
  if (isa == "avx512bf16")
    return cpu_has("avx512") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
  if (isa == "avx512") return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return isa == "portable";
}

const FlashKernels& kernels_for(const std::string& isa) {
#ifdef MUSEFM_X86_KERNELS
  if (isa == "avx512bf16") return cpu::kernels_avx512bf16();
  if (isa == "avx512") return cpu::kernels_avx512();
  if (isa == "avx2") return cpu::kernels_avx2();
#endif
  return cpu::kernels_portable();
}

std::atomic<const FlashKernels*>& active() {
  static std::atomic<const FlashKernels*> k{[] {
    const char* env = std::getenv("MUSEFM_CPU_ISA");
    if (env && *env) {
      const std::string isa(env);
      MUSEFM_CHECK(isa == "avx512bf16" || isa == "avx512" || isa == "avx2" || isa == "portable",
                   "MUSEFM_CPU_ISA must be avx512bf16, avx512, avx2 or portable, got '", isa, "'");
      MUSEFM_CHECK(cpu_has(isa), "MUSEFM_CPU_ISA=", isa, ": this CPU does not support it");
      return &kernels_for(isa);
    }
    for (const char* isa : {"avx512bf16", "avx512", "avx2"})
      if (cpu_has(isa)) return &kernels_for(isa);
    return &kernels_for("portable");
  }()};
  return k;
}

void set_strides(const at::Tensor& t, int64_t* s) {
  for (int i = 0; i < 3; ++i) s[i] = t.stride(i);
}

void check_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& mask) {
  MUSEFM_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
               "attention: q, k, v must be [B, H, T, D], got ", q.sizes(), ", ", k.sizes(), ", ",
               v.sizes());
  MUSEFM_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3) &&
                   k.sizes() == v.sizes(),
               "attention: shapes do not match: q ", q.sizes(), ", k ", k.sizes(), ", v ",
               v.sizes());
  MUSEFM_CHECK(q.scalar_type() == k.scalar_type() && k.scalar_type() == v.scalar_type(),
               "attention: q, k, v must have one dtype");
  MUSEFM_CHECK(q.size(2) > 0 && k.size(2) > 0, "attention: empty sequence");
  if (mask.defined())
    MUSEFM_CHECK(mask.scalar_type() == at::kBool && mask.dim() == 2 && mask.size(0) == k.size(0) &&
                     mask.size(1) == k.size(2),
                 "attention: key_padding_mask must be bool [B, Tk] = [", k.size(0), ", ", k.size(2),
                 "], got ", mask.scalar_type(), " ", mask.sizes());
}

double resolve_scale(double scale, int64_t D) {
  return scale > 0 ? scale : 1.0 / std::sqrt(double(D));
}

bool fused_cpu_supports(const at::Tensor& q) {
  return q.device().is_cpu() &&
         (q.scalar_type() == at::kFloat || q.scalar_type() == at::kBFloat16) &&
         q.size(3) % 32 == 0 && q.size(3) <= 256;
}

// Inputs with a contiguous last dim, the mask as bytes; fills the shared fields of `p`.
struct Prepared {
  at::Tensor q, k, v, mask;
  FlashProblem p;
};

Prepared prepare(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                 const at::Tensor& mask, double scale, double dropout_p, uint64_t seed) {
  Prepared r;
  const auto last_contiguous = [](const at::Tensor& t) {
    return t.stride(3) == 1 ? t : t.contiguous();
  };
  r.q = last_contiguous(q);
  r.k = last_contiguous(k);
  r.v = last_contiguous(v);
  FlashProblem& p = r.p;
  p.B = q.size(0);
  p.H = q.size(1);
  p.Tq = q.size(2);
  p.Tk = k.size(2);
  p.D = q.size(3);
  p.dtype = q.scalar_type() == at::kFloat ? cpu::DType::F32 : cpu::DType::BF16;
  p.q = r.q.data_ptr();
  p.k = r.k.data_ptr();
  p.v = r.v.data_ptr();
  set_strides(r.q, p.q_stride);
  set_strides(r.k, p.k_stride);
  set_strides(r.v, p.v_stride);
  if (mask.defined()) {
    r.mask = mask.to(at::kByte).contiguous();
    p.key_mask = r.mask.data_ptr<uint8_t>();
  }
  p.scale = float(scale);
  p.dropout_p = float(dropout_p);
  p.seed = seed;
  return r;
}

// Forward on CPU: returns {out, lse}.
std::pair<at::Tensor, at::Tensor> fused_forward(const at::Tensor& q, const at::Tensor& k,
                                                const at::Tensor& v, const at::Tensor& mask,
                                                double scale, double dropout_p, uint64_t seed) {
  Prepared r = prepare(q, k, v, mask, scale, dropout_p, seed);
  // Output stored as [B, T, H, D] and returned as the [B, H, T, D] view: the caller's merge of
  // the heads (transpose(1, 2) + reshape to [B, T, H * D]) is then free, as with sdpa.
  at::Tensor out =
      at::empty({q.size(0), q.size(2), q.size(1), q.size(3)}, q.options()).transpose(1, 2);
  at::Tensor lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(at::kFloat));
  r.p.o = out.data_ptr();
  set_strides(out, r.p.o_stride);
  r.p.lse = lse.data_ptr<float>();
  const at::Tensor packed = at::empty({cpu::kv_floats(r.p)}, q.options().dtype(at::kFloat));
  r.p.kv_packed = packed.data_ptr<float>();
  const FlashKernels& kern = *active().load();
  const FlashProblem& p = r.p;
  at::parallel_for(0, p.B * p.H * cpu::key_blocks(p), 1,
                   [&](int64_t b, int64_t e) { kern.pack_keys(p, b, e); });
  at::parallel_for(0, p.B * p.H * cpu::query_blocks(p), 1,
                   [&](int64_t b, int64_t e) { kern.forward(p, b, e); });
  return {out, lse};
}

struct FusedAttentionFunction : public torch::autograd::Function<FusedAttentionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q,
                            const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                            double scale, double dropout_p, int64_t seed) {
    const at::Tensor m = mask.numel() > 0 ? mask : at::Tensor();
    auto [out, lse] = fused_forward(q, k, v, m, scale, dropout_p, uint64_t(seed));
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["mask"] = mask;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout_p"] = dropout_p;
    ctx->saved_data["seed"] = seed;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3], &lse = saved[4];
    const at::Tensor saved_mask = ctx->saved_data["mask"].toTensor();
    const at::Tensor mask = saved_mask.numel() > 0 ? saved_mask : at::Tensor();
    const at::Tensor dout = grads[0].to(q.scalar_type());
    Prepared r =
        prepare(q, k, v, mask, ctx->saved_data["scale"].toDouble(),
                ctx->saved_data["dropout_p"].toDouble(), uint64_t(ctx->saved_data["seed"].toInt()));
    const at::Tensor d = dout.stride(3) == 1 ? dout : dout.contiguous();
    const at::Tensor delta = (d.to(at::kFloat) * out.to(at::kFloat)).sum(-1).contiguous();
    at::Tensor dq = at::empty(q.sizes(), q.options()), dk = at::empty(k.sizes(), k.options()),
               dv = at::empty(v.sizes(), v.options());
    FlashProblem& p = r.p;
    p.lse = const_cast<float*>(lse.data_ptr<float>());
    p.dout = d.data_ptr();
    set_strides(d, p.dout_stride);
    p.delta = delta.data_ptr<float>();
    p.dq = dq.data_ptr();
    p.dk = dk.data_ptr();
    p.dv = dv.data_ptr();
    const at::Tensor kv = at::empty({cpu::kv_floats(p)}, q.options().dtype(at::kFloat));
    const at::Tensor qd = at::empty({cpu::q_floats(p)}, q.options().dtype(at::kFloat));
    p.kv_packed = kv.data_ptr<float>();
    p.q_packed = qd.data_ptr<float>();
    const FlashKernels& kern = *active().load();
    at::parallel_for(0, p.B * p.H * cpu::key_blocks(p), 1,
                     [&](int64_t b, int64_t e) { kern.pack_keys(p, b, e); });
    at::parallel_for(0, p.B * p.H * cpu::query_blocks(p), 1,
                     [&](int64_t b, int64_t e) { kern.pack_queries(p, b, e); });
    at::parallel_for(0, p.B * p.H * cpu::key_blocks(p), 1,
                     [&](int64_t b, int64_t e) { kern.backward_dkdv(p, b, e); });
    at::parallel_for(0, p.B * p.H * cpu::query_blocks(p), 1,
                     [&](int64_t b, int64_t e) { kern.backward_dq(p, b, e); });
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                 const at::Tensor& mask, double scale, double dropout_p) {
  at::Tensor scores = at::matmul(q * scale, k.transpose(-1, -2));
  at::Tensor probs;
  if (mask.defined()) {
    const at::Tensor m = mask.view({mask.size(0), 1, 1, mask.size(1)});
    scores = scores.masked_fill(m.logical_not(), -std::numeric_limits<double>::infinity());
    // Rows without a visible key: zeros (softmax of all -inf is NaN).
    probs = at::softmax(scores, -1).masked_fill(m.logical_not().all(-1, /*keepdim=*/true), 0);
  } else {
    probs = at::softmax(scores, -1);
  }
  if (dropout_p > 0) probs = at::dropout(probs, dropout_p, /*train=*/true);
  return at::matmul(probs, v);
}

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& mask, double scale, double dropout_p) {
  if (!mask.defined())
    return at::scaled_dot_product_attention(q, k, v, std::nullopt, dropout_p, false, scale);
  const at::Tensor m = mask.view({mask.size(0), 1, 1, mask.size(1)});
  const at::Tensor out = at::scaled_dot_product_attention(q, k, v, m, dropout_p, false, scale);
  return out.masked_fill(m.logical_not().all(-1, true), 0);  // rows without a visible key
}
}  // namespace

AttentionImpl parse_attention_impl(const std::string& name) {
  if (name == "fused") return AttentionImpl::Fused;
  if (name == "sdpa") return AttentionImpl::Sdpa;
  if (name == "naive") return AttentionImpl::Naive;
  MUSEFM_FAIL("attention implementation must be fused, sdpa or naive, got '", name, "'");
}

const char* attention_impl_name(AttentionImpl impl) {
  switch (impl) {
    case AttentionImpl::Fused:
      return "fused";
    case AttentionImpl::Sdpa:
      return "sdpa";
    default:
      return "naive";
  }
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& key_padding_mask, double scale, double dropout_p,
                     AttentionImpl impl) {
  check_inputs(q, k, v, key_padding_mask);
  MUSEFM_CHECK(dropout_p >= 0 && dropout_p < 1, "attention: dropout_p must be in [0, 1), got ",
               dropout_p);
  const double s = resolve_scale(scale, q.size(3));
  if (impl == AttentionImpl::Naive) return naive(q, k, v, key_padding_mask, s, dropout_p);
  if (impl == AttentionImpl::Sdpa || !fused_cpu_supports(q))
    return sdpa(q, k, v, key_padding_mask, s, dropout_p);
  int64_t seed = 0;
  if (dropout_p > 0) seed = at::randint(0, int64_t(1) << 62, {1}, at::kLong).item<int64_t>();
  const bool needs_grad =
      at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  if (!needs_grad)
    return fused_forward(q, k, v, key_padding_mask, s, dropout_p, uint64_t(seed)).first;
  // Autograd functions need defined tensor arguments: an empty mask stands for "no padding".
  const at::Tensor mask = key_padding_mask.defined() ? key_padding_mask : at::empty({0}, at::kBool);
  return FusedAttentionFunction::apply(q, k, v, mask, s, dropout_p, seed);
}

std::string fused_cpu_isa() { return active().load()->isa; }

void set_fused_cpu_isa(const std::string& isa) {
  MUSEFM_CHECK(isa == "avx512bf16" || isa == "avx512" || isa == "avx2" || isa == "portable",
               "CPU instruction set must be avx512bf16, avx512, avx2 or portable, got '", isa, "'");
  MUSEFM_CHECK(cpu_has(isa), "this CPU does not support ", isa);
  active().store(&kernels_for(isa));
}

std::vector<std::string> available_cpu_isas() {
  std::vector<std::string> out;
  for (const char* isa : {"avx512bf16", "avx512", "avx2", "portable"})
    if (cpu_has(isa)) out.push_back(isa);
  return out;
}

}  // namespace musefm::kernels

// ---- k-means assignment (kernels/nearest.h) on the same instruction set -------------------
namespace musefm::kernels {

std::pair<at::Tensor, at::Tensor> nearest_centroids(const at::Tensor& x,
                                                    const at::Tensor& centroids) {
  MUSEFM_CHECK(x.dim() == 2 && centroids.dim() == 2 && x.size(1) == centroids.size(1),
               "nearest_centroids: rows [n, D] and centroids [K, D] expected, got ", x.sizes(),
               " and ", centroids.sizes());
  MUSEFM_CHECK(x.device().is_cpu() && centroids.device().is_cpu() &&
                   x.scalar_type() == at::kFloat && centroids.scalar_type() == at::kFloat &&
                   x.is_contiguous(),
               "nearest_centroids: float32 CPU tensors expected (rows contiguous)");
  const int64_t n = x.size(0), D = x.size(1), K = centroids.size(0);
  const int64_t Kp = (K + cpu::kNearestPad - 1) / cpu::kNearestPad * cpu::kNearestPad;
  const at::Tensor cT = at::zeros({D, Kp}, x.options());
  cT.narrow(1, 0, K).copy_(centroids.t());
  const at::Tensor cn = at::full({Kp}, std::numeric_limits<float>::infinity(), x.options());
  cn.narrow(0, 0, K).copy_(centroids.square().sum(1));
  at::Tensor idx = at::empty({n}, x.options().dtype(at::kLong)), d2 = at::empty({n}, x.options());
  if (n == 0 || K == 0) return {idx, d2};
  cpu::NearestProblem p;
  p.x = x.data_ptr<float>();
  p.D = D;
  p.cT = cT.data_ptr<float>();
  p.cn = cn.data_ptr<float>();
  p.Kp = Kp;
  p.idx = idx.data_ptr<int64_t>();
  p.d2 = d2.data_ptr<float>();
  const auto* k = active().load();
  at::parallel_for(0, n, 256, [&](int64_t b, int64_t e) { k->nearest(p, b, e); });
  return {idx, d2};
}

}  // namespace musefm::kernels
