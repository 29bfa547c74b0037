// Attention kernels on the hot path: one call, three implementations that give the same result.
//
//   at::Tensor o = musefm::kernels::attention(q, k, v);          // [B, H, T, D] each
//   o = musefm::kernels::attention(q, k, v, key_padding_mask, 0, 0.1,
//                                  musefm::kernels::AttentionImpl::Fused);
//
//   Fused  musefm's flash-style kernels: on CPU a tiled online-softmax forward and backward
//          (no T x T buffer, memory O(T)), vectorised for AVX-512, AVX2 or plain C++ chosen at
//          run time (MUSEFM_CPU_ISA=avx512bf16|avx512|avx2|portable overrides), parallel over
//          batch x heads x blocks, fp32 or bf16 inputs with fp32 accumulation, head dims that
//          are multiples of 32 up to 256. On CUDA tensors it runs PyTorch's flash kernel (the
//          musefm CUDA kernels in kernels/cuda/ are built and checked by
//          benchmarks/gpu_attention.sh on a GPU machine).
//   Sdpa   at::scaled_dot_product_attention.
//   Naive  softmax(q k^T scale) v with the full score matrix (reference).
//
// key_padding_mask: bool [B, Tk], true for real keys (undefined: no padding). Queries whose
// keys are all masked give zeros. scale <= 0 means 1 / sqrt(D). dropout_p > 0 drops attention
// probabilities (training); the fused kernel regenerates its mask in the backward pass from a
// seed drawn from the default generator, so at::manual_seed makes it reproducible.
// All implementations support autograd; Fused has its own fused backward.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace musefm::kernels {

enum class AttentionImpl { Fused, Sdpa, Naive };

/// "fused", "sdpa" or "naive" (throws musefm::Error otherwise).
AttentionImpl parse_attention_impl(const std::string& name);
const char* attention_impl_name(AttentionImpl impl);

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& key_padding_mask = {}, double scale = 0,
                     double dropout_p = 0, AttentionImpl impl = AttentionImpl::Fused);

/// Instruction set of the fused CPU kernel in use: "avx512bf16", "avx512", "avx2" or "portable".
std::string fused_cpu_isa();
/// Forces an instruction set (tests, benchmarks); throws if this CPU lacks it.
void set_fused_cpu_isa(const std::string& isa);
/// Instruction sets this CPU can run, best first.
std::vector<std::string> available_cpu_isas();

}  // namespace musefm::kernels
