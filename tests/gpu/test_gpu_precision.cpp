// GPU checks of inference precision (run by tools/gpu_check.sh; not part of ctest): on CUDA,
// bf16 and fp16 stay within cosine 0.999 of fp32 on every frame of every hidden state of both
// families, the results are float32 on the host's request, and int8 is refused with a clear
// error (it is a CPU path).
#include <gtest/gtest.h>

#include "musefm/extract.h"
#include "support/test_support.h"

namespace musefm {
namespace {

at::Tensor one_second() {
  const at::Tensor in = test::load_npy(test::fixture("encoders/mert_tiny_postln") + "/input.npy");
  return at::cat({in[0], in[1], in[0].flip(0)}).contiguous();
}

double worst_frame_cosine(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor a64 = a.to(at::kCPU, at::kDouble), b64 = b.to(at::kCPU, at::kDouble);
  const at::Tensor cos = (a64 * b64).sum(-1) / (a64.norm(2, -1) * b64.norm(2, -1) + 1e-30);
  return cos.min().item<double>();
}

TEST(GpuPrecision, Bf16AndFp16StayWithinToleranceOfFp32OnBothFamilies) {
  for (const char* name : {"mert_tiny_postln", "mert_tiny_preln", "musicfm_tiny"}) {
    const Encoder enc = Encoder::load(test::fixture(std::string("encoders/") + name), "cuda");
    ExtractConfig c;
    c.pool = Pool::None;
    c.window_s = 0;
    const at::Tensor fp32 = Extractor(enc, c).extract(one_second());
    for (Precision p : {Precision::Bf16, Precision::Fp16}) {
      c.precision = p;
      const at::Tensor low = Extractor(enc, c).extract(one_second());
      EXPECT_EQ(low.scalar_type(), at::kFloat) << name << " " << to_string(p);
      ASSERT_EQ(low.sizes(), fp32.sizes()) << name;
      EXPECT_GE(worst_frame_cosine(low, fp32), 0.999) << name << " " << to_string(p);
      EXPECT_FALSE(at::equal(low.cpu(), fp32.cpu()))
          << name << ": " << to_string(p) << " did not run";
    }
  }
  const std::string e = test::error_of([] {
    Encoder::load(test::fixture("encoders/mert_tiny_postln"), "cuda")
        .with_precision(Precision::Int8);
  });
  EXPECT_NE(e.find("precision int8 runs on the CPU only"), std::string::npos) << e;
}

}  // namespace
}  // namespace musefm
