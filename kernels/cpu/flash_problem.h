// Internal: the plain-data description of one attention call handed to the CPU flash kernels.
// No torch types: the kernels are compiled once per instruction set (AVX-512, AVX2, portable)
// and must not share inline code with the rest of the library.
#pragma once

#include <cstdint>

#include "dropout_hash.h"

namespace musefm::kernels::cpu {

enum class DType : int { F32 = 0, BF16 = 1 };

/// q, k, v, o (and dq, dk, dv, dout) are [B, H, T, D] with the last dim contiguous; strides in
/// elements for the b, h and t dims. key_mask: B x Tk bytes (1 = real key) or null.
struct FlashProblem {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, D = 0;
  DType dtype = DType::F32;
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  int64_t q_stride[3]{}, k_stride[3]{}, v_stride[3]{};
  void* o = nullptr;  // forward output (dtype of q)
  int64_t o_stride[3]{};
  float* lse = nullptr;  // [B, H, Tq] log-sum-exp of the scaled scores (-inf: no visible key)
  const uint8_t* key_mask = nullptr;
  float scale = 1.0f;
  float dropout_p = 0.0f;
  uint64_t seed = 0;
  // backward
  const void* dout = nullptr;
  int64_t dout_stride[3]{};
  const float* delta = nullptr;                      // [B, H, Tq] rowsum(dout * out)
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;  // contiguous [B, H, T, D], dtype of q
  // Workspaces filled by pack_keys (kv_floats() floats) and pack_queries (q_floats()): the
  // blocks every work item reads, packed once per head instead of once per work item.
  float* kv_packed = nullptr;
  float* q_packed = nullptr;
};

/// Rows per query block and keys per key block (the work-item granularity).
constexpr int64_t kBlockQ = 128;
constexpr int64_t kBlockK = 128;

static inline int64_t query_blocks(const FlashProblem& p) { return (p.Tq + kBlockQ - 1) / kBlockQ; }
static inline int64_t key_blocks(const FlashProblem& p) { return (p.Tk + kBlockK - 1) / kBlockK; }
/// Packed key block: K^T [D][kBlockK] and V [kBlockK][D] for the forward; the backward adds
/// V^T [D][kBlockK] and K [kBlockK][D] (zero beyond Tk), fp32.
static inline int64_t kv_block_floats(const FlashProblem& p) {
  return (p.dout ? 4 : 2) * p.D * kBlockK;
}
static inline int64_t kv_floats(const FlashProblem& p) {
  return p.B * p.H * key_blocks(p) * kv_block_floats(p);
}
/// Packed query block (backward): Q * scale and dO [kBlockQ][D], fp32.
static inline int64_t q_block_floats(const FlashProblem& p) { return 2 * p.D * kBlockQ; }
static inline int64_t q_floats(const FlashProblem& p) {
  return p.B * p.H * query_blocks(p) * q_block_floats(p);
}

/// k-means assignment: for rows x [n, D] (row-major) and centroids given transposed, cT [D, Kp]
/// with cn [Kp] their squared norms (K padded to a multiple of the vector width: zero columns,
/// cn = +inf), idx[r] = the nearest centroid (first on ties) and d2[r] its squared distance.
struct NearestProblem {
  const float* x = nullptr;
  int64_t D = 0;
  const float* cT = nullptr;
  const float* cn = nullptr;
  int64_t Kp = 0;
  int64_t* idx = nullptr;
  float* d2 = nullptr;
};
/// Multiple Kp must be padded to (the widest vector of any instruction set).
constexpr int64_t kNearestPad = 16;

/// One set of kernels per instruction set. Work items: forward and backward_dq over
/// B*H*query_blocks, backward_dkdv over B*H*key_blocks; [begin, end) may run on any thread.
/// pack_keys must have run before forward / backward; pack_queries before backward.
struct FlashKernels {
  const char* isa;
  void (*pack_keys)(const FlashProblem&, int64_t begin, int64_t end);     // B*H*key_blocks
  void (*pack_queries)(const FlashProblem&, int64_t begin, int64_t end);  // B*H*query_blocks
  void (*forward)(const FlashProblem&, int64_t begin, int64_t end);
  void (*backward_dkdv)(const FlashProblem&, int64_t begin, int64_t end);
  void (*backward_dq)(const FlashProblem&, int64_t begin, int64_t end);
  void (*nearest)(const NearestProblem&, int64_t begin, int64_t end);  // rows [begin, end)
};

const FlashKernels& kernels_avx512bf16();  // AVX-512 + the bf16 inference forward (vdpbf16ps)
const FlashKernels& kernels_avx512();
const FlashKernels& kernels_avx2();
const FlashKernels& kernels_portable();

/// Dropout keep decision for score (bh, i, j); see dropout_hash.h.
static inline bool dropout_keep(uint64_t seed, int64_t bh, int64_t i, int64_t j, int64_t Tq,
                                int64_t Tk, float p) {
  return dropout_keep_hash(seed, bh, i, j, Tq, Tk, p);
}

}  // namespace musefm::kernels::cpu
