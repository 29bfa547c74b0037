// GPU checks (run by tools/gpu_check.sh on a machine with CUDA; not part of ctest): every
// transform gives the CPU result on a CUDA tensor, and stays on the device.
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include "musefm/codec.h"
#include "musefm/features.h"
#include "musefm/teachers.h"
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

TEST(Gpu, TeachersMatchCpu) {
  const at::Tensor x = test::load_wav(test::fixture("real_24k.wav"));
  // EnCodec: continuous output and codes.
  const std::string codec = test::fixture("teachers/encodec_tiny");
  const auto cpu = EncodecTeacher::load(codec), gpu = EncodecTeacher::load(codec, "cuda");
  const at::Tensor w = x.unsqueeze(0);
  EXPECT_LE(test::max_rel_error(gpu.encode(w).cpu(), cpu.encode(w)), 1e-4);
  const at::Tensor cc = cpu.codes(w, 6.0), gc = gpu.codes(w, 6.0).cpu();
  EXPECT_GE(cc.eq(gc).to(at::kDouble).mean().item<double>(), 0.999);
  // k-means: fit and assign on the device.
  const at::Tensor rows = test::load_npy(test::fixture("teachers/kmeans_rows.npy"));
  KMeansConfig kc;
  kc.k = 8;
  const KMeans km = KMeans::fit(rows.to(at::kCUDA), kc);
  EXPECT_TRUE(km.assign(rows.to(at::kCUDA)).is_cuda());
  EXPECT_LE(km.inertia(rows.to(at::kCUDA)), 1.01 * KMeans::fit(rows, kc).inertia(rows));
  // BEST-RQ tokens.
  const BestRq q = BestRq::random(1, 512, 16, 4096, 142);
  const at::Tensor mel = test::load_npy(test::fixture("teachers/bestrq_noise.npy"));
  EXPECT_TRUE(at::equal(q.tokens(mel.to(at::kCUDA)).cpu(), q.tokens(mel)));
}

}  // namespace
}  // namespace musefm
