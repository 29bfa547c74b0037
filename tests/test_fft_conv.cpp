// conv1d_fft (MERT's positional conv through FFTs) against at::conv1d in float64.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "model/fft_conv.h"
#include "musefm/error.h"

namespace {
using musefm::model_detail::conv1d_fft;

double rel_err(const at::Tensor& a, const at::Tensor& ref) {
  return (a.to(at::kDouble) - ref).abs().max().item<double>() / ref.abs().max().item<double>();
}

struct Case {
  int64_t B, C_in, C_out, groups, K, padding, T;
};

class FftConv : public ::testing::TestWithParam<Case> {};

TEST_P(FftConv, MatchesDirectConvolution) {
  const Case c = GetParam();
  at::manual_seed(c.T * 31 + c.K);
  const at::Tensor x = at::randn({c.B, c.C_in, c.T});
  const at::Tensor w = at::randn({c.C_out, c.C_in / c.groups, c.K}) / std::sqrt(double(c.K));
  const at::Tensor b = at::randn({c.C_out});
  const at::Tensor ref = at::conv1d(x.to(at::kDouble), w.to(at::kDouble), b.to(at::kDouble), 1,
                                    c.padding, 1, c.groups);
  const at::Tensor y = conv1d_fft(x, w, b, c.padding, c.groups);
  ASSERT_EQ(y.sizes(), ref.sizes());
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_LT(rel_err(y, ref), 1e-5);
  // Without bias.
  const at::Tensor ref0 =
      at::conv1d(x.to(at::kDouble), w.to(at::kDouble), {}, 1, c.padding, 1, c.groups);
  EXPECT_LT(rel_err(conv1d_fft(x, w, {}, c.padding, c.groups), ref0), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FftConv,
    ::testing::Values(Case{1, 96, 96, 16, 128, 64, 2249},  // MERT's positional conv, 30 s
                      Case{2, 32, 32, 4, 128, 64, 1},      // one frame
                      Case{1, 32, 32, 4, 128, 64, 129},    // exactly one block
                      Case{1, 32, 32, 4, 128, 64, 130},    // one frame into the second block
                      Case{2, 12, 24, 3, 31, 15, 500},     // odd kernel, C_out != C_in
                      Case{1, 8, 8, 1, 1, 0, 17},          // K = 1, one group
                      Case{1, 8, 4, 2, 16, 0, 40}));       // no padding

TEST(FftConvGrad, MatchesDirectConvolutionGradients) {
  at::manual_seed(3);
  const at::Tensor x0 = at::randn({2, 16, 300}, at::kDouble),
                   w0 = at::randn({16, 4, 64}, at::kDouble), b0 = at::randn({16}, at::kDouble),
                   g = at::randn({2, 16, 301}, at::kDouble);
  auto grads = [&](bool fft) {
    at::Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(),
               b = b0.clone().requires_grad_();
    const at::Tensor y =
        fft ? conv1d_fft(x.to(at::kFloat), w.to(at::kFloat), b.to(at::kFloat), 32, 4)
            : at::conv1d(x, w, b, 1, 32, 1, 4);
    (y.to(at::kDouble) * g).sum().backward();
    return std::vector<at::Tensor>{x.grad(), w.grad(), b.grad()};
  };
  const auto a = grads(true), r = grads(false);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(rel_err(a[i], r[i]), 1e-5) << "gradient " << i;
}

TEST(FftConvDtype, KeepsTheInputDtype) {
  const at::Tensor x = at::randn({1, 8, 50}).to(at::kBFloat16);
  const at::Tensor w = at::randn({8, 2, 16}).to(at::kBFloat16);
  const at::Tensor y = conv1d_fft(x, w, {}, 8, 4);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  const at::Tensor ref = at::conv1d(x.to(at::kDouble), w.to(at::kDouble), {}, 1, 8, 1, 4);
  EXPECT_LT(rel_err(y, ref), 1e-2);
}

TEST(FftConvErrors, RejectsBadShapes) {
  EXPECT_THROW(conv1d_fft(at::zeros({1, 6, 50}), at::zeros({8, 2, 16}), {}, 0, 4), musefm::Error);
  EXPECT_THROW(conv1d_fft(at::zeros({1, 8, 10}), at::zeros({8, 2, 16}), {}, 0, 4), musefm::Error);
  EXPECT_THROW(conv1d_fft(at::zeros({8, 50}), at::zeros({8, 2, 16}), {}, 0, 4), musefm::Error);
}

}  // namespace
