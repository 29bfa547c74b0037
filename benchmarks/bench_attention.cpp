// bench_attention: fused (musefm) vs at::scaled_dot_product_attention vs naive attention on CPU,
// B=1, H=12, D=64, T in {375, 750, 2250, 4500} (MERT at 75 Hz: 5, 10, 30, 60 s), forward and
// forward+backward, fp32 and bf16.
//
//   bench_attention [google-benchmark flags]      timings
//   bench_attention --memory IMPL T DTYPE MODE    peak extra resident memory of one call (MB):
//       IMPL fused|sdpa|naive, DTYPE f32|bf16, MODE fwd|fwdbwd (run each in its own process)
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "attention.h"

namespace {
using musefm::kernels::AttentionImpl;

constexpr int64_t kH = 12, kD = 64;

void run_once(AttentionImpl impl, int64_t T, at::ScalarType dtype, bool backward,
              const std::vector<at::Tensor>& qkv, const at::Tensor& grad) {
  if (!backward) {
    c10::InferenceMode no_grad;
    benchmark::DoNotOptimize(musefm::kernels::attention(qkv[0], qkv[1], qkv[2], {}, 0, 0, impl));
    return;
  }
  const at::Tensor out = musefm::kernels::attention(qkv[0], qkv[1], qkv[2], {}, 0, 0, impl);
  benchmark::DoNotOptimize(torch::autograd::grad({out}, qkv, {grad}));
  (void)T;
  (void)dtype;
}

std::vector<at::Tensor> inputs(int64_t T, at::ScalarType dtype, bool backward) {
  at::manual_seed(0);
  std::vector<at::Tensor> qkv;
  for (int i = 0; i < 3; ++i) {
    at::Tensor t = at::randn({1, T, kH, kD}).transpose(1, 2).contiguous().to(dtype);
    if (backward) t.requires_grad_();
    qkv.push_back(t);
  }
  return qkv;
}

void BM_Attention(benchmark::State& state) {
  const auto impl = AttentionImpl(state.range(0));
  const int64_t T = state.range(1);
  const at::ScalarType dtype = state.range(2) ? at::kBFloat16 : at::kFloat;
  const bool backward = state.range(3);
  const auto qkv = inputs(T, dtype, backward);
  const at::Tensor grad = at::randn({1, kH, T, kD}).to(dtype);
  for (auto _ : state) run_once(impl, T, dtype, backward, qkv, grad);
  state.SetLabel(
      std::string(musefm::kernels::attention_impl_name(impl)) +
      (dtype == at::kFloat ? " f32 " : " bf16 ") + (backward ? "fwd+bwd" : "fwd") +
      (impl == AttentionImpl::Fused ? " [" + musefm::kernels::fused_cpu_isa() + "]" : ""));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t mode : {0, 1})
    for (int64_t dtype : {0, 1})
      for (int64_t T : {375, 750, 2250, 4500})
        for (int64_t impl : {0, 1, 2}) b->Args({impl, T, dtype, mode});
}
BENCHMARK(BM_Attention)->Apply(Args)->Unit(benchmark::kMillisecond)->UseRealTime();

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

int memory(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: bench_attention --memory fused|sdpa|naive T f32|bf16 fwd|fwdbwd\n");
    return 2;
  }
  const AttentionImpl impl = musefm::kernels::parse_attention_impl(argv[2]);
  const int64_t T = std::stoll(argv[3]);
  const at::ScalarType dtype = std::string(argv[4]) == "bf16" ? at::kBFloat16 : at::kFloat;
  const bool backward = std::string(argv[5]) == "fwdbwd";
  const auto qkv = inputs(T, dtype, backward);
  const at::Tensor grad = at::randn({1, kH, T, kD}).to(dtype);
  run_once(impl, 8, dtype, backward, inputs(8, dtype, backward), grad.narrow(2, 0, 8));  // warm up
  const long before = status_kb("VmRSS:");
  run_once(impl, T, dtype, backward, qkv, grad);
  const long peak = status_kb("VmHWM:");
  std::printf(
      "{\"impl\": \"%s\", \"T\": %lld, \"dtype\": \"%s\", \"mode\": \"%s\", \"peak_extra_mb\": "
      "%.1f}\n",
      argv[2], (long long)T, argv[4], argv[5], double(peak - before) / 1024.0);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--memory") return memory(argc, argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
