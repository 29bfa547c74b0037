// The CUDA flash-attention kernels' tile logic, run on the CPU by cuda/flash_emulation.h (the
// same __host__ __device__ routines, block by block and thread by thread), against float64
// references: forward, gradients, key padding and dropout. On a GPU the kernels themselves are
// checked by benchmarks/gpu_attention.sh.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "cuda/flash_emulation.h"
#include "support/test_support.h"

namespace musefm::kernels {
namespace {

using cuda_tile::Params;

at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& mask, const at::Tensor& keep, double p) {
  at::Tensor s = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(q.size(3)));
  const at::Tensor m = mask.view({mask.size(0), 1, 1, mask.size(1)});
  s = s.masked_fill(m.logical_not(), -INFINITY);
  at::Tensor probs = at::softmax(s, -1).masked_fill(m.logical_not().all(-1, true), 0);
  if (keep.defined()) probs = probs * keep.to(at::kDouble) / (1 - p);
  return at::matmul(probs, v);
}

double rel_err(const at::Tensor& a, const at::Tensor& ref, double floor = 1e-30) {
  return (a.to(at::kDouble) - ref).abs().max().item<double>() /
         std::max(ref.abs().max().item<double>(), floor);
}

template <int D>
void check(int64_t B, int64_t H, int64_t T, double dropout) {
  at::manual_seed(int(T + D));
  const auto make = [&] { return at::randn({B, H, T, D}).mul(1.5); };
  const at::Tensor q = make(), k = make(), v = make(), g = at::randn({B, H, T, D});
  at::Tensor mask = at::ones({B, T}, at::kBool);
  if (B > 1) mask[1].narrow(0, (T + 1) / 2, T - (T + 1) / 2).fill_(false);
  const at::Tensor mask_bytes = mask.to(at::kByte).contiguous();

  Params p;
  p.B = int(B), p.H = int(H), p.Tq = p.Tk = int(T);
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  at::Tensor o = at::empty_like(q), lse = at::empty({B, H, T}), delta = at::empty({B, H, T});
  at::Tensor dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
  p.o = o.data_ptr();
  p.lse = lse.data_ptr<float>();
  p.key_mask = mask_bytes.data_ptr<uint8_t>();
  p.scale = float(1 / std::sqrt(double(D)));
  p.dropout_p = float(dropout);
  p.seed = 12345;
  cuda_tile::emulate_forward<float, D>(p);
  p.dout = g.data_ptr();
  p.delta = delta.data_ptr<float>();
  p.dq = dq.data_ptr();
  p.dk = dk.data_ptr();
  p.dv = dv.data_ptr();
  cuda_tile::emulate_backward<float, D>(p);

  at::Tensor keep;
  if (dropout > 0) {
    keep = at::empty({B, H, T, T}, at::kBool);
    auto a = keep.accessor<bool, 4>();
    for (int64_t bh = 0; bh < B * H; ++bh)
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          a[bh / H][bh % H][i][j] = dropout_keep_hash(p.seed, bh, i, j, T, T, float(dropout));
  }
  std::vector<at::Tensor> in{q.to(at::kDouble).requires_grad_(), k.to(at::kDouble).requires_grad_(),
                             v.to(at::kDouble).requires_grad_()};
  const at::Tensor ref = reference(in[0], in[1], in[2], mask, keep, dropout);
  EXPECT_LE(rel_err(o, ref.detach()), 1e-5) << "forward D " << D << " T " << T;
  const auto grads = torch::autograd::grad({ref}, in, {g.to(at::kDouble)});
  const at::Tensor got[] = {dq, dk, dv};
  for (int i = 0; i < 3; ++i)
    EXPECT_LE(rel_err(got[i], grads[size_t(i)], 1.0), 1e-4)
        << "grad " << i << " D " << D << " T " << T << " dropout " << dropout;
}

TEST(CudaTileEmulation, ForwardAndBackwardMatchFloat64) {
  for (int64_t T : {1, 7, 70, 130}) {
    check<64>(2, 2, T, 0.0);
    check<128>(2, 2, T, 0.0);
  }
}

TEST(CudaTileEmulation, DropoutMatchesTheExplicitMask) {
  check<64>(2, 2, 97, 0.25);
  check<128>(1, 2, 40, 0.1);
}

}  // namespace
}  // namespace musefm::kernels
