// GPU checks (run by tools/gpu_check.sh on a machine with CUDA; not part of ctest): every
// transform gives the CPU result on a CUDA tensor, and stays on the device.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include "musefm/features.h"
#include "support/test_support.h"

namespace musefm {
namespace {

template <typename Transform>
void expect_device_parity(const Transform& t, const at::Tensor& x, double tol) {
  const at::Tensor cpu = t(x);
  const at::Tensor gpu = t(x.to(at::kCUDA));
  ASSERT_TRUE(gpu.is_cuda());
  EXPECT_LE(test::max_rel_error(gpu.cpu(), cpu), tol);
}

TEST(Gpu, DeviceIsPresent) { ASSERT_TRUE(at::hasCUDA()) << "tools/gpu_check.sh needs a CUDA GPU"; }

TEST(Gpu, FeaturesMatchCpu) {
  const at::Tensor x24 = test::load_wav(test::fixture("real_24k.wav"));
  const at::Tensor x22 = test::load_wav(test::fixture("real_22k.wav"));
  const at::Tensor x16 = test::load_wav(test::fixture("real_16k.wav"));
  expect_device_parity(MelSpectrogram(MelConfig::musicfm()), x24, 1e-4);
  expect_device_parity(KaldiMfcc(KaldiMfccConfig::hubert()), x16, 1e-3);
  expect_device_parity(NnAudioCqt(NnAudioCqtConfig::mert()), at::stack({x24, x24 * 0.5}), 1e-4);
  expect_device_parity(LibrosaCqt(), x22, 1e-4);
  expect_device_parity(Chroma(), x22, 1e-4);
}

}  // namespace
}  // namespace musefm
