// Attention kernels: fused (every CPU instruction set this machine has), sdpa and naive agree
// with a float64 reference on random inputs, with and without key padding, forward and
// backward, fp32 and bf16, with dropout.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "attention.h"
#include "cpu/flash_problem.h"
#include "musefm/error.h"
#include "nearest.h"
#include "support/test_support.h"

namespace musefm::kernels {
namespace {

// Float64 reference with a bool [B, Tk] mask (rows without visible keys -> 0) and an optional
// explicit keep mask [B, H, Tq, Tk] for dropout.
at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& mask, double p = 0, const at::Tensor& keep = {}) {
  const at::Tensor qd = q.to(at::kDouble), kd = k.to(at::kDouble), vd = v.to(at::kDouble);
  at::Tensor s = at::matmul(qd, kd.transpose(-1, -2)) / std::sqrt(double(q.size(3)));
  at::Tensor probs;
  if (mask.defined()) {
    const at::Tensor m = mask.view({mask.size(0), 1, 1, mask.size(1)});
    s = s.masked_fill(m.logical_not(), -INFINITY);
    probs = at::softmax(s, -1).masked_fill(m.logical_not().all(-1, true), 0);
  } else {
    probs = at::softmax(s, -1);
  }
  if (keep.defined()) probs = probs * keep.to(at::kDouble) / (1 - p);
  return at::matmul(probs, vd);
}

// max |a - ref| / max |ref|. `floor` bounds the denominator from below where the reference can
// vanish (e.g. dq and dk for a single key, whose exact gradient is zero).
double rel_err(const at::Tensor& a, const at::Tensor& ref, double floor = 1e-30) {
  return (a.to(at::kDouble) - ref).abs().max().item<double>() /
         std::max(ref.abs().max().item<double>(), floor);
}

// Random [B, Tk] padding: item 0 full, item 1 keeps a prefix, item 2 (if any) random holes.
at::Tensor padding(int64_t B, int64_t T) {
  at::Tensor m = at::ones({B, T}, at::kBool);
  if (B > 1) m[1].narrow(0, (T + 1) / 2, T - (T + 1) / 2).fill_(false);
  if (B > 2) m[2] = at::rand({T}) > 0.3;
  return m;
}

struct Qkv {
  at::Tensor q, k, v;
};
Qkv random_qkv(int64_t B, int64_t H, int64_t T, int64_t D, at::ScalarType dtype) {
  // q and k from a [B, T, H, D] layout (as the encoders produce them): strided views.
  const auto make = [&] { return at::randn({B, T, H, D}).mul(1.5).transpose(1, 2).to(dtype); };
  return {make(), make(), make()};
}

class FusedIsa : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    previous_ = fused_cpu_isa();
    set_fused_cpu_isa(GetParam());
  }
  void TearDown() override { set_fused_cpu_isa(previous_); }
  std::string previous_;
};

TEST_P(FusedIsa, ForwardMatchesFloat64AcrossLengthsMasksAndHeadDims) {
  at::manual_seed(1);
  for (int64_t D : {64, 128}) {
    for (int64_t T : {1, 7, 64, 375, 2251}) {
      if (D == 128 && T == 2251) continue;
      const int64_t B = T > 1000 ? 1 : 3, H = T > 1000 ? 2 : 3;
      for (bool masked : {false, true}) {
        if (masked && B == 1) continue;
        const Qkv x = random_qkv(B, H, T, D, at::kFloat);
        const at::Tensor mask = masked ? padding(B, T) : at::Tensor();
        const at::Tensor ref = reference(x.q, x.k, x.v, mask);
        const at::Tensor fused = attention(x.q, x.k, x.v, mask);
        EXPECT_LE(rel_err(fused, ref), 1e-5) << "D " << D << " T " << T << " masked " << masked;
        const Qkv b = {x.q.to(at::kBFloat16), x.k.to(at::kBFloat16), x.v.to(at::kBFloat16)};
        const at::Tensor fused_bf16 = attention(b.q, b.k, b.v, mask);
        EXPECT_EQ(fused_bf16.scalar_type(), at::kBFloat16);
        EXPECT_LE(rel_err(fused_bf16, reference(b.q, b.k, b.v, mask)), 1e-2)
            << "bf16 D " << D << " T " << T << " masked " << masked;
        if (GetParam() == "avx512bf16" && T > 1) {
          // The bf16 dot-product forward really ran: it rounds P to bf16, the AVX-512 kernel
          // does not, so the two differ (slightly).
          set_fused_cpu_isa("avx512");
          const at::Tensor fp32_math = attention(b.q, b.k, b.v, mask);
          set_fused_cpu_isa("avx512bf16");
          EXPECT_FALSE(at::equal(fused_bf16, fp32_math)) << "D " << D << " T " << T;
          EXPECT_LE(rel_err(fused_bf16, fp32_math), 1e-2) << "D " << D << " T " << T;
        }
      }
    }
  }
}

TEST_P(FusedIsa, GradientsMatchAutogradThroughTheNaivePath) {
  at::manual_seed(2);
  for (int64_t T : {1, 7, 64, 375}) {
    for (int64_t D : {64, 128}) {
      const int64_t B = 3, H = 2;
      const Qkv x = random_qkv(B, H, T, D, at::kFloat);
      const at::Tensor mask = T % 2 ? padding(B, T) : at::Tensor();  // with and without padding
      const at::Tensor grad_out = at::randn({B, H, T, D});
      const auto grads = [&](AttentionImpl impl, at::ScalarType dtype) {
        std::vector<at::Tensor> in{x.q.to(dtype).detach().requires_grad_(),
                                   x.k.to(dtype).detach().requires_grad_(),
                                   x.v.to(dtype).detach().requires_grad_()};
        const at::Tensor out = attention(in[0], in[1], in[2], mask, 0, 0, impl);
        return torch::autograd::grad({out}, in, {grad_out.to(dtype)});
      };
      const auto ref = grads(AttentionImpl::Naive, at::kDouble);
      const auto fused = grads(AttentionImpl::Fused, at::kFloat);
      const char* names[] = {"dq", "dk", "dv"};
      for (int i = 0; i < 3; ++i)
        EXPECT_LE(rel_err(fused[size_t(i)], ref[size_t(i)], 1.0), 1e-4)
            << names[i] << " T " << T << " D " << D;
      const auto bf16 = grads(AttentionImpl::Fused, at::kBFloat16);
      for (int i = 0; i < 3; ++i)
        EXPECT_LE(rel_err(bf16[size_t(i)], ref[size_t(i)], 1.0), 5e-2)
            << "bf16 " << names[i] << " T " << T << " D " << D;
    }
  }
}

TEST_P(FusedIsa, DropoutUsesOneRegeneratedMaskInForwardAndBackward) {
  const int64_t B = 2, H = 2, T = 150, D = 64;
  const double p = 0.2;
  at::manual_seed(3);
  const Qkv x = random_qkv(B, H, T, D, at::kFloat);
  const at::Tensor mask = padding(B, T);
  // The seed attention() draws after manual_seed(9).
  at::manual_seed(9);
  const auto seed = uint64_t(at::randint(0, int64_t(1) << 62, {1}, at::kLong).item<int64_t>());
  at::Tensor keep = at::empty({B, H, T, T}, at::kBool);
  auto acc = keep.accessor<bool, 4>();
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j)
        acc[bh / H][bh % H][i][j] = cpu::dropout_keep(seed, bh, i, j, T, T, float(p));
  const double kept = keep.to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 1 - p, 0.01);

  std::vector<at::Tensor> in{x.q.detach().requires_grad_(), x.k.detach().requires_grad_(),
                             x.v.detach().requires_grad_()};
  at::manual_seed(9);
  const at::Tensor out = attention(in[0], in[1], in[2], mask, 0, p);
  std::vector<at::Tensor> rin{x.q.to(at::kDouble).requires_grad_(),
                              x.k.to(at::kDouble).requires_grad_(),
                              x.v.to(at::kDouble).requires_grad_()};
  const at::Tensor ref = reference(rin[0], rin[1], rin[2], mask, p, keep);
  EXPECT_LE(rel_err(out, ref.detach()), 1e-5);
  const at::Tensor g = at::randn({B, H, T, D});
  const auto fused = torch::autograd::grad({out}, in, {g});
  const auto expect = torch::autograd::grad({ref}, rin, {g.to(at::kDouble)});
  for (int i = 0; i < 3; ++i) EXPECT_LE(rel_err(fused[size_t(i)], expect[size_t(i)]), 1e-4) << i;
  // Another seed drops other probabilities.
  at::manual_seed(10);
  EXPECT_GT(rel_err(attention(x.q, x.k, x.v, mask, 0, p), ref.detach()), 1e-3);
}

// The k-means assignment kernel (kernels/nearest.h) on this instruction set against distance
// GEMMs in float64: same nearest centroid wherever the two best are not within rounding of each
// other, the first index on exact ties, distances to float rounding; K not a multiple of the
// vector width, odd D, a row count that leaves a partial row block.
TEST_P(FusedIsa, NearestCentroidMatchesFloat64ArgMin) {
  at::manual_seed(3);
  for (int64_t K : {1, 7, 16, 100, 500}) {
    const int64_t n = 1003, D = 39;
    const at::Tensor x = at::randn({n, D}), c = at::randn({K, D});
    const auto [idx, d2] = nearest_centroids(x, c);
    const at::Tensor ref = at::cdist(x.to(at::kDouble), c.to(at::kDouble)).square();  // [n, K]
    const auto [ref_d2, ref_idx] = ref.min(1);
    if (K == 1) {
      EXPECT_TRUE(idx.eq(0).all().item<bool>());
    } else {
      const at::Tensor second = std::get<0>(ref.topk(2, 1, false)).select(1, 1);
      const at::Tensor clear = (second - ref_d2) > 1e-3 * ref_d2.clamp_min(1);
      EXPECT_TRUE(idx.eq(ref_idx).logical_or(clear.logical_not()).all().item<bool>()) << "K " << K;
      EXPECT_GT(clear.sum().item<int64_t>(), n / 2) << "K " << K;  // most rows decide
    }
    EXPECT_LE((d2.to(at::kDouble) - ref_d2).abs().max().item<double>(),
              1e-4 * ref_d2.max().item<double>())
        << "K " << K;
  }
  // Exact ties (duplicated centroids): the first index, as torch's min.
  const at::Tensor c = at::randn({5, 8}).repeat({3, 1});  // rows k, k + 5, k + 10 equal
  const at::Tensor x = at::randn({40, 8});
  const auto [idx, d2] = nearest_centroids(x, c);
  EXPECT_TRUE(idx.lt(5).all().item<bool>());
  EXPECT_TRUE(idx.eq(at::cdist(x, c.narrow(0, 0, 5)).argmin(1)).all().item<bool>());
  EXPECT_TRUE(d2.ge(0).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Cpu, FusedIsa, ::testing::ValuesIn(available_cpu_isas()));

TEST(Attention, ThreeImplementationsAgree) {
  at::manual_seed(4);
  const Qkv x = random_qkv(3, 4, 200, 64, at::kFloat);
  const at::Tensor mask = padding(3, 200);
  const at::Tensor ref = reference(x.q, x.k, x.v, mask);
  for (auto impl : {AttentionImpl::Fused, AttentionImpl::Sdpa, AttentionImpl::Naive})
    EXPECT_LE(rel_err(attention(x.q, x.k, x.v, mask, 0, 0, impl), ref), 1e-5)
        << attention_impl_name(impl);
}

TEST(Attention, KeysAllMaskedGiveZerosNotNaN) {
  const Qkv x = random_qkv(2, 2, 9, 64, at::kFloat);
  at::Tensor mask = at::ones({2, 9}, at::kBool);
  mask[1].fill_(false);
  for (auto impl : {AttentionImpl::Fused, AttentionImpl::Sdpa, AttentionImpl::Naive}) {
    const at::Tensor out = attention(x.q, x.k, x.v, mask, 0, 0, impl);
    EXPECT_FALSE(out.isnan().any().item<bool>()) << attention_impl_name(impl);
    EXPECT_EQ(out[1].abs().max().item<float>(), 0.0f) << attention_impl_name(impl);
  }
}

TEST(Attention, BadInputsAreClearErrors) {
  const Qkv x = random_qkv(1, 2, 5, 64, at::kFloat);
  EXPECT_THROW(attention(x.q, x.k.narrow(3, 0, 32), x.v), Error);
  EXPECT_THROW(attention(x.q, x.k, x.v, at::ones({1, 5})), Error);  // float mask
  EXPECT_THROW(attention(x.q, x.k, x.v, at::ones({1, 4}, at::kBool)), Error);
  EXPECT_THROW(attention(x.q, x.k, x.v, {}, 0, 1.0), Error);
  EXPECT_THROW(parse_attention_impl("flash"), Error);
  EXPECT_THROW(set_fused_cpu_isa("sse9"), Error);
}

}  // namespace
}  // namespace musefm::kernels
