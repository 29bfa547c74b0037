// Internal: the CUDA flash-attention algorithm as __host__ __device__ routines. The kernels in
// flash_forward.cu / flash_backward.cu are thin loops over these phases with __syncthreads()
// between them; cuda/flash_emulation.h runs the very same phases on the CPU, block by block and
// thread by thread, so the tile logic is tested without a GPU (tests/test_cuda_tiles.cpp).
//
// Layout: q, k, v, o, dout, dq, dk, dv are contiguous [B, H, T, D]; lse, delta [B, H, Tq].
// One thread per query row (forward, dQ) or per key row (dK/dV); tiles of the other operand
// are staged in shared memory as float. Inputs bf16 / fp16 / fp32, fp32 math.
#pragma once

#include <cstdint>

#include "dropout_hash.h"

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#else
#include <cmath>
#endif

namespace musefm::kernels::cuda_tile {

constexpr int kRows = 64;  ///< threads per block: query rows (forward, dQ) or key rows (dK/dV)
/// Rows of the other operand per shared-memory tile (32 KB of floats for D = 128).
template <int D>
constexpr int kTileRows = D <= 64 ? 64 : 32;

struct Params {
  int B = 0, H = 0, Tq = 0, Tk = 0;
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  void* o = nullptr;
  float* lse = nullptr;
  const uint8_t* key_mask = nullptr;  ///< [B, Tk], 1 = real key; null = none
  float scale = 1.0f, dropout_p = 0.0f;
  uint64_t seed = 0;
  const void* dout = nullptr;
  float* delta = nullptr;  ///< [B, H, Tq], written by the backward's first kernel
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;
};

MUSEFM_HD float neg_inf() { return -__builtin_huge_valf(); }
MUSEFM_HD float fexp(float x) {
#ifdef __CUDA_ARCH__
  return __expf(x);
#else
  return std::exp(x);
#endif
}
MUSEFM_HD float flog(float x) {
#ifdef __CUDA_ARCH__
  return __logf(x);
#else
  return std::log(x);
#endif
}
MUSEFM_HD float to_float(float x) { return x; }
MUSEFM_HD void store(float x, float* out) { *out = x; }
#ifdef __CUDACC__
MUSEFM_HD float to_float(__half x) { return __half2float(x); }
MUSEFM_HD float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
MUSEFM_HD void store(float x, __half* out) { *out = __float2half_rn(x); }
MUSEFM_HD void store(float x, __nv_bfloat16* out) { *out = __float2bfloat16_rn(x); }
#endif

MUSEFM_HD bool key_visible(const Params& p, int b, int key) {
  return key < p.Tk && (!p.key_mask || p.key_mask[int64_t(b) * p.Tk + key]);
}
MUSEFM_HD float dropout_factor(const Params& p, int bh, int i, int j) {
  if (p.dropout_p <= 0) return 1.0f;
  return dropout_keep_hash(p.seed, bh, i, j, p.Tq, p.Tk, p.dropout_p) ? 1.0f / (1.0f - p.dropout_p)
                                                                      : 0.0f;
}

// ---- forward: block = (query block, b*h), thread = query row ------------------------------

template <int D>
struct KvTile {  // shared memory: keys and values of one tile
  float k[kTileRows<D>][D];
  float v[kTileRows<D>][D];
  bool visible[kTileRows<D>];
};

template <int D>
struct ForwardRow {  // registers of one thread
  float q[D], acc[D], m, l;
};

/// Thread `t` stages its share of keys/values [k0, k0 + tile) of head bh.
template <typename T, int D>
MUSEFM_HD void load_kv_tile(const Params& p, int bh, int k0, int t, KvTile<D>& s) {
  constexpr int BK = kTileRows<D>;
  const T* k = static_cast<const T*>(p.k) + int64_t(bh) * p.Tk * D;
  const T* v = static_cast<const T*>(p.v) + int64_t(bh) * p.Tk * D;
  for (int idx = t; idx < BK * D; idx += kRows) {
    const int j = idx / D, d = idx % D, key = k0 + j;
    const bool in = key < p.Tk;
    s.k[j][d] = in ? to_float(k[int64_t(key) * D + d]) : 0.0f;
    s.v[j][d] = in ? to_float(v[int64_t(key) * D + d]) : 0.0f;
  }
  for (int j = t; j < BK; j += kRows) s.visible[j] = key_visible(p, bh / p.H, k0 + j);
}

template <typename T, int D>
MUSEFM_HD void forward_init(const Params& p, int bh, int row, ForwardRow<D>& r) {
  const T* q = static_cast<const T*>(p.q) + (int64_t(bh) * p.Tq + row) * D;
  for (int d = 0; d < D; ++d) {
    r.q[d] = to_float(q[d]) * p.scale;
    r.acc[d] = 0.0f;
  }
  r.m = neg_inf();
  r.l = 0.0f;
}

/// Online-softmax update of one query row with one key tile.
template <int D>
MUSEFM_HD void forward_tile(const Params& p, int bh, int row, int k0, const KvTile<D>& s,
                            ForwardRow<D>& r) {
  constexpr int BK = kTileRows<D>;
  float score[BK];
  float mx = neg_inf();
  for (int j = 0; j < BK; ++j) {
    float dot = 0.0f;
    for (int d = 0; d < D; ++d) dot += r.q[d] * s.k[j][d];
    score[j] = s.visible[j] ? dot : neg_inf();
    mx = score[j] > mx ? score[j] : mx;
  }
  if (mx == neg_inf()) return;  // nothing visible in this tile
  const float m_new = mx > r.m ? mx : r.m;
  const float alpha = r.m == neg_inf() ? 0.0f : fexp(r.m - m_new);
  float sum = 0.0f;
  for (int j = 0; j < BK; ++j) {
    const float e = s.visible[j] ? fexp(score[j] - m_new) : 0.0f;
    sum += e;
    score[j] = e * dropout_factor(p, bh, row, k0 + j);
  }
  r.l = r.l * alpha + sum;
  r.m = m_new;
  for (int d = 0; d < D; ++d) {
    float a = r.acc[d] * alpha;
    for (int j = 0; j < BK; ++j) a += score[j] * s.v[j][d];
    r.acc[d] = a;
  }
}

template <typename T, int D>
MUSEFM_HD void forward_finish(const Params& p, int bh, int row, const ForwardRow<D>& r) {
  T* o = static_cast<T*>(p.o) + (int64_t(bh) * p.Tq + row) * D;
  const float inv = r.l > 0 ? 1.0f / r.l : 0.0f;
  for (int d = 0; d < D; ++d) store(r.acc[d] * inv, o + d);
  p.lse[int64_t(bh) * p.Tq + row] = r.l > 0 ? r.m + flog(r.l) : neg_inf();
}

// ---- backward: delta = rowsum(dout * out); dK/dV (thread = key row); dQ (thread = query row)

template <typename T, int D>
MUSEFM_HD void delta_row(const Params& p, int bh, int row) {
  const int64_t off = (int64_t(bh) * p.Tq + row) * D;
  const T* o = static_cast<const T*>(p.o) + off;
  const T* g = static_cast<const T*>(p.dout) + off;
  float s = 0.0f;
  for (int d = 0; d < D; ++d) s += to_float(o[d]) * to_float(g[d]);
  p.delta[int64_t(bh) * p.Tq + row] = s;
}

template <int D>
struct QTile {  // shared memory: scaled queries, output gradients, lse and delta of one tile
  float q[kTileRows<D>][D];
  float dout[kTileRows<D>][D];
  float lse[kTileRows<D>], delta[kTileRows<D>];
};

template <typename T, int D>
MUSEFM_HD void load_q_tile(const Params& p, int bh, int q0, int t, QTile<D>& s) {
  constexpr int BQ = kTileRows<D>;
  const T* q = static_cast<const T*>(p.q) + int64_t(bh) * p.Tq * D;
  const T* g = static_cast<const T*>(p.dout) + int64_t(bh) * p.Tq * D;
  for (int idx = t; idx < BQ * D; idx += kRows) {
    const int i = idx / D, d = idx % D, row = q0 + i;
    const bool in = row < p.Tq;
    s.q[i][d] = in ? to_float(q[int64_t(row) * D + d]) * p.scale : 0.0f;
    s.dout[i][d] = in ? to_float(g[int64_t(row) * D + d]) : 0.0f;
  }
  for (int i = t; i < BQ; i += kRows) {
    const int row = q0 + i;
    s.lse[i] = row < p.Tq ? p.lse[int64_t(bh) * p.Tq + row] : neg_inf();
    s.delta[i] = row < p.Tq ? p.delta[int64_t(bh) * p.Tq + row] : 0.0f;
  }
}

template <int D>
struct KeyRow {
  float k[D], v[D], dk[D], dv[D];
  bool visible;
};

template <typename T, int D>
MUSEFM_HD void key_init(const Params& p, int bh, int key, KeyRow<D>& r) {
  const int64_t off = (int64_t(bh) * p.Tk + key) * D;
  for (int d = 0; d < D; ++d) {
    r.k[d] = to_float(static_cast<const T*>(p.k)[off + d]);
    r.v[d] = to_float(static_cast<const T*>(p.v)[off + d]);
    r.dk[d] = r.dv[d] = 0.0f;
  }
  r.visible = key_visible(p, bh / p.H, key);
}

/// dV += P^T dO and dK += dS^T (Q scale) for one key row over one query tile.
template <int D>
MUSEFM_HD void key_tile(const Params& p, int bh, int key, int q0, const QTile<D>& s, KeyRow<D>& r) {
  constexpr int BQ = kTileRows<D>;
  if (!r.visible) return;
  for (int i = 0; i < BQ && q0 + i < p.Tq; ++i) {
    if (s.lse[i] == neg_inf()) continue;
    float qk = 0.0f, gv = 0.0f;
    for (int d = 0; d < D; ++d) {
      qk += s.q[i][d] * r.k[d];
      gv += s.dout[i][d] * r.v[d];
    }
    const float prob = fexp(qk - s.lse[i]), keep = dropout_factor(p, bh, q0 + i, key);
    const float ds = prob * (gv * keep - s.delta[i]);
    for (int d = 0; d < D; ++d) {
      r.dv[d] += prob * keep * s.dout[i][d];
      r.dk[d] += ds * s.q[i][d];
    }
  }
}

template <typename T, int D>
MUSEFM_HD void key_finish(const Params& p, int bh, int key, const KeyRow<D>& r) {
  const int64_t off = (int64_t(bh) * p.Tk + key) * D;
  for (int d = 0; d < D; ++d) {
    store(r.dk[d], static_cast<T*>(p.dk) + off + d);
    store(r.dv[d], static_cast<T*>(p.dv) + off + d);
  }
}

template <int D>
struct QueryRow {
  float q[D], dout[D], dq[D], lse, delta;
};

template <typename T, int D>
MUSEFM_HD void query_init(const Params& p, int bh, int row, QueryRow<D>& r) {
  const int64_t off = (int64_t(bh) * p.Tq + row) * D;
  for (int d = 0; d < D; ++d) {
    r.q[d] = to_float(static_cast<const T*>(p.q)[off + d]) * p.scale;
    r.dout[d] = to_float(static_cast<const T*>(p.dout)[off + d]);
    r.dq[d] = 0.0f;
  }
  r.lse = p.lse[int64_t(bh) * p.Tq + row];
  r.delta = p.delta[int64_t(bh) * p.Tq + row];
}

/// dQ += dS K for one query row over one key tile (scaled at the end).
template <int D>
MUSEFM_HD void query_tile(const Params& p, int bh, int row, int k0, const KvTile<D>& s,
                          QueryRow<D>& r) {
  constexpr int BK = kTileRows<D>;
  if (r.lse == neg_inf()) return;
  for (int j = 0; j < BK; ++j) {
    if (!s.visible[j]) continue;
    float qk = 0.0f, gv = 0.0f;
    for (int d = 0; d < D; ++d) {
      qk += r.q[d] * s.k[j][d];
      gv += r.dout[d] * s.v[j][d];
    }
    const float prob = fexp(qk - r.lse);
    const float ds = prob * (gv * dropout_factor(p, bh, row, k0 + j) - r.delta);
    for (int d = 0; d < D; ++d) r.dq[d] += ds * s.k[j][d];
  }
}

template <typename T, int D>
MUSEFM_HD void query_finish(const Params& p, int bh, int row, const QueryRow<D>& r) {
  T* dq = static_cast<T*>(p.dq) + (int64_t(bh) * p.Tq + row) * D;
  for (int d = 0; d < D; ++d) store(r.dq[d] * p.scale, dq + d);
}

}  // namespace musefm::kernels::cuda_tile
