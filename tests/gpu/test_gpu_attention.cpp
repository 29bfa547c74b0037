// GPU checks of the CUDA flash-attention kernels (run by benchmarks/gpu_attention.sh and
// tools/gpu_check.sh on a machine with a CUDA GPU): forward and backward against a float64
// reference for fp32 / fp16 / bf16, head dims 64 and 128, key padding.
#include <cuda_runtime.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/ATen.h>

#include "cuda/flash_attention_cuda.h"

namespace musefm::kernels {
namespace {

double rel_err(const at::Tensor& a, const at::Tensor& ref, double floor) {
  return (a.cpu().to(at::kDouble) - ref).abs().max().item<double>() /
         std::max(ref.abs().max().item<double>(), floor);
}

struct Case {
  at::ScalarType dtype;
  CudaDType cuda;
  double tol;
};

TEST(GpuAttention, FlashKernelsMatchFloat64) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA GPU visible: the CUDA kernels were only compiled";
  for (const Case c :
       {Case{at::kFloat, CudaDType::F32, 1e-4}, Case{at::kHalf, CudaDType::F16, 1e-2},
        Case{at::kBFloat16, CudaDType::BF16, 2e-2}}) {
    for (int D : {64, 128}) {
      for (int64_t T : {1, 7, 64, 375, 2251}) {
        const int64_t B = 2, H = 3;
        at::manual_seed(int(T) + D);
        const auto make = [&] { return at::randn({B, H, T, D}, at::kDouble); };
        const at::Tensor q = make(), k = make(), v = make(), g = make();
        at::Tensor mask = at::ones({B, T}, at::kBool);
        mask[1].narrow(0, (T + 1) / 2, T - (T + 1) / 2).fill_(false);
        // float64 reference with autograd
        std::vector<at::Tensor> in{q.clone().requires_grad_(), k.clone().requires_grad_(),
                                   v.clone().requires_grad_()};
        const at::Tensor m = mask.view({B, 1, 1, T});
        at::Tensor s = at::matmul(in[0], in[1].transpose(-1, -2)) / std::sqrt(double(D));
        s = s.masked_fill(m.logical_not(), -INFINITY);
        const at::Tensor probs = at::softmax(s, -1).masked_fill(m.logical_not().all(-1, true), 0);
        const at::Tensor ref = at::matmul(probs, in[2]);
        const auto grads = torch::autograd::grad({ref}, in, {g});

        const auto dev = [&](const at::Tensor& t) { return t.to(at::kCUDA, c.dtype).contiguous(); };
        const at::Tensor dq_ = dev(q), dk_ = dev(k), dv_ = dev(v), dg = dev(g);
        const at::Tensor dmask = mask.to(at::kCUDA, at::kByte).contiguous();
        at::Tensor o = at::empty_like(dq_),
                   lse = at::empty({B, H, T}, dq_.options().dtype(at::kFloat));
        at::Tensor delta = at::empty_like(lse), gq = at::empty_like(dq_), gk = at::empty_like(dk_),
                   gv = at::empty_like(dv_);
        cuda_tile::Params p;
        p.B = int(B), p.H = int(H), p.Tq = p.Tk = int(T);
        p.q = dq_.data_ptr(), p.k = dk_.data_ptr(), p.v = dv_.data_ptr(), p.o = o.data_ptr();
        p.lse = lse.data_ptr<float>();
        p.key_mask = dmask.data_ptr<uint8_t>();
        p.scale = float(1 / std::sqrt(double(D)));
        ASSERT_EQ(flash_attention_forward_cuda(p, c.cuda, D, nullptr), cudaSuccess);
        p.dout = dg.data_ptr(), p.delta = delta.data_ptr<float>();
        p.dq = gq.data_ptr(), p.dk = gk.data_ptr(), p.dv = gv.data_ptr();
        ASSERT_EQ(flash_attention_backward_cuda(p, c.cuda, D, nullptr), cudaSuccess);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        EXPECT_LE(rel_err(o, ref.detach(), 1e-30), c.tol) << c.dtype << " D " << D << " T " << T;
        const at::Tensor got[] = {gq, gk, gv};
        for (int i = 0; i < 3; ++i)
          EXPECT_LE(rel_err(got[i], grads[size_t(i)], 1.0), 10 * c.tol)
              << c.dtype << " grad " << i << " D " << D << " T " << T;
      }
    }
  }
}

}  // namespace
}  // namespace musefm::kernels
