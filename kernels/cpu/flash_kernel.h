// Internal: the CPU flash-attention kernels (forward, backward dK/dV, backward dQ), written once
// against the Vec ops of vec_<isa>.h and compiled once per instruction set. Include inside an
// ISA-specific namespace after the vec header; uses no C++ library templates (their inline
// copies would be shared with other translation units compiled for other instruction sets).
//
// Tiles: a query block of kBlockQ rows against key blocks of kBlockK keys (padded to a multiple
// of two vectors, padded keys masked out). Scores live only per tile: memory O(T), no T x T.
//   forward    online softmax per row (running max m, sum l), acc += P V; lse = m + log l
//   dK, dV     per key block over all query blocks: P = exp(S - lse), dV += P^T dO,
//              dS = P (dO V^T - delta), dK += dS^T Q scale
//   dQ         per query block over all key blocks: dQ += dS K scale
// Dropout (training): P is multiplied by keep / (1 - p) after the softmax normalisation, the
// keep mask regenerated from dropout_keep() in both passes.
// Needs <cmath>, <cstdint>, <cstdlib> and <cstring>, included by the translation unit.

static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round_up(int64_t a, int64_t m) { return (a + m - 1) / m * m; }
constexpr int64_t kPanel = 2 * kW;  // columns per micro-kernel tile
constexpr int kMR = kW == 16 ? 8 : 6;
static const float kNegInf = -__builtin_huge_valf();

static inline float to_f32(float x) { return x; }
static inline float to_f32(uint16_t x) {
  const uint32_t u = uint32_t(x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static inline void store_f32(float x, float* out) { *out = x; }
static inline void store_f32(float x, uint16_t* out) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) {
    *out = 0x7fc0;
    return;
  }
  u += 0x7fffu + ((u >> 16) & 1u);
  *out = uint16_t(u >> 16);
}

// Scratch floats for one thread's work items, 64-byte aligned.
struct Scratch {
  float* base = nullptr;
  explicit Scratch(int64_t floats) {
    base = static_cast<float*>(std::aligned_alloc(64, size_t(round_up(floats * 4, 64))));
  }
  ~Scratch() { std::free(base); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// C[MR x 2W] (+)= A[MR x K] B[K x 2W]; A row stride lda, B row stride ldb.
template <int MR>
static inline void gemm_tile(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                             float* C, int64_t ldc, bool accumulate) {
  Vec c0[MR], c1[MR];
  for (int r = 0; r < MR; ++r) {
    c0[r] = accumulate ? vload(C + r * ldc) : vzero();
    c1[r] = accumulate ? vload(C + r * ldc + kW) : vzero();
  }
  for (int64_t k = 0; k < K; ++k) {
    const Vec b0 = vload(B + k * ldb), b1 = vload(B + k * ldb + kW);
    for (int r = 0; r < MR; ++r) {
      const Vec a = vset1(A[r * lda + k]);
      c0[r] = vfmadd(a, b0, c0[r]);
      c1[r] = vfmadd(a, b1, c1[r]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    vstore(C + r * ldc, c0[r]);
    vstore(C + r * ldc + kW, c1[r]);
  }
}

// C[M x N] (+)= A[M x K] B[K x N], N a multiple of kPanel.
static void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  for (int64_t n0 = 0; n0 < N; n0 += kPanel) {
    int64_t m0 = 0;
    for (; m0 + kMR <= M; m0 += kMR)
      gemm_tile<kMR>(K, A + m0 * lda, lda, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate);
    for (; m0 < M; ++m0)
      gemm_tile<1>(K, A + m0 * lda, lda, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate);
  }
}

template <typename T>
static inline const T* at_row(const void* base, const int64_t* stride, int64_t b, int64_t h,
                              int64_t t) {
  return static_cast<const T*>(base) + b * stride[0] + h * stride[1] + t * stride[2];
}

// rows x D block of a [B, H, T, D] tensor into dst (row stride D), times `scale`.
template <typename T>
static void pack_rows(const void* src, const int64_t* stride, int64_t b, int64_t h, int64_t t0,
                      int64_t rows, int64_t D, float scale, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = at_row<T>(src, stride, b, h, t0 + r);
    for (int64_t d = 0; d < D; ++d) dst[r * D + d] = to_f32(s[d]) * scale;
  }
}

// Rows [t0, t0 + n) of a [B, H, T, D] tensor as columns: dst[d * ld + j], zero for n <= j < ld.
template <typename T>
static void pack_cols(const void* src, const int64_t* stride, int64_t b, int64_t h, int64_t t0,
                      int64_t n, int64_t ld, int64_t D, float* dst) {
  for (int64_t j = 0; j < ld; ++j) {
    if (j < n) {
      const T* s = at_row<T>(src, stride, b, h, t0 + j);
      for (int64_t d = 0; d < D; ++d) dst[d * ld + j] = to_f32(s[d]);
    } else {
      for (int64_t d = 0; d < D; ++d) dst[d * ld + j] = 0.0f;
    }
  }
}

// Packed key block `kb` of head bh: K^T, V^T (ld kBlockK), K, V (row stride D).
struct KeyBlock {
  const float *kt, *vt, *k, *v;
};
static KeyBlock key_block(const FlashProblem& p, int64_t bh, int64_t kb) {
  const int64_t D = p.D;
  const float* base = p.kv_packed + (bh * key_blocks(p) + kb) * kv_block_floats(p);
  // forward: kt, v; backward: kt, v, vt, k
  return {base, base + 2 * D * kBlockK, base + 3 * D * kBlockK, base + D * kBlockK};
}

template <typename T>
static void pack_keys_t(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nkb = key_blocks(p);
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nkb, b = bh / p.H, h = bh % p.H, k0 = (w % nkb) * kBlockK;
    const int64_t nk = imin(kBlockK, p.Tk - k0);
    const KeyBlock kb = key_block(p, bh, w % nkb);
    pack_cols<T>(p.k, p.k_stride, b, h, k0, nk, kBlockK, D, const_cast<float*>(kb.kt));
    pack_rows<T>(p.v, p.v_stride, b, h, k0, nk, D, 1.0f, const_cast<float*>(kb.v));
    std::memset(const_cast<float*>(kb.v) + nk * D, 0, sizeof(float) * size_t((kBlockK - nk) * D));
    if (!p.dout) continue;  // the forward reads K^T and V only
    pack_cols<T>(p.v, p.v_stride, b, h, k0, nk, kBlockK, D, const_cast<float*>(kb.vt));
    pack_rows<T>(p.k, p.k_stride, b, h, k0, nk, D, 1.0f, const_cast<float*>(kb.k));
    std::memset(const_cast<float*>(kb.k) + nk * D, 0, sizeof(float) * size_t((kBlockK - nk) * D));
  }
}

// Packed query block `qb` of head bh (backward): Q * scale and dO, row stride D.
static const float* query_block(const FlashProblem& p, int64_t bh, int64_t qb) {
  return p.q_packed + (bh * query_blocks(p) + qb) * q_block_floats(p);
}

template <typename T>
static void pack_queries_t(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nqb = query_blocks(p);
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nqb, b = bh / p.H, h = bh % p.H, q0 = (w % nqb) * kBlockQ;
    const int64_t rows = imin(kBlockQ, p.Tq - q0);
    float* qs = const_cast<float*>(query_block(p, bh, w % nqb));
    pack_rows<T>(p.q, p.q_stride, b, h, q0, rows, D, p.scale, qs);
    pack_rows<T>(p.dout, p.dout_stride, b, h, q0, rows, D, 1.0f, qs + kBlockQ * D);
  }
}

// 0 for visible keys, -inf for masked and padded ones.
static void key_bias(const FlashProblem& p, int64_t b, int64_t k0, int64_t nk, int64_t nkp,
                     float* bias) {
  for (int64_t j = 0; j < nkp; ++j) {
    const bool visible = j < nk && (!p.key_mask || p.key_mask[b * p.Tk + k0 + j]);
    bias[j] = visible ? 0.0f : kNegInf;
  }
}

static void apply_dropout(const FlashProblem& p, int64_t bh, int64_t i, int64_t k0, int64_t nk,
                          float* row) {
  const float keep_scale = 1.0f / (1.0f - p.dropout_p);
  for (int64_t j = 0; j < nk; ++j)
    row[j] =
        dropout_keep(p.seed, bh, i, k0 + j, p.Tq, p.Tk, p.dropout_p) ? row[j] * keep_scale : 0.0f;
}

// P = exp(S + bias - lse) for one row of nkp scores (rows without visible keys: 0).
static void probabilities(float* s, const float* bias, int64_t nkp, float lse) {
  if (lse == kNegInf) {
    for (int64_t j = 0; j < nkp; ++j) s[j] = 0.0f;
    return;
  }
  const Vec l = vset1(lse);
  for (int64_t j = 0; j < nkp; j += kW)
    vstore(s + j, vexp(vsub(vadd(vload(s + j), vload(bias + j)), l)));
}

// One online-softmax step of a query row over a key block: x = s * scale + bias, the running
// max m and sum l updated, s overwritten with exp(x - m), the row's accumulator acc (D floats)
// rescaled to the new max. False when no key is visible yet (s zeroed, nothing else changes).
static inline bool softmax_step(float* s, const float* bias, int64_t nkp, float scale, float& m,
                                float& l, float* acc, int64_t D) {
  const Vec sc = vset1(scale);
  Vec mx = vset1(kNegInf);
  for (int64_t j = 0; j < nkp; j += kW) {
    const Vec x = vadd(vmul(vload(s + j), sc), vload(bias + j));
    vstore(s + j, x);
    mx = vmax(mx, x);
  }
  const float row_max = vhmax(mx), m_new = row_max > m ? row_max : m;
  if (m_new == kNegInf) {
    std::memset(s, 0, sizeof(float) * size_t(nkp));
    return false;
  }
  const float alpha = m == kNegInf ? 0.0f : expf(m - m_new);
  const Vec mn = vset1(m_new);
  Vec sum = vzero();
  for (int64_t j = 0; j < nkp; j += kW) {
    const Vec e = vexp(vsub(vload(s + j), mn));
    vstore(s + j, e);
    sum = vadd(sum, e);
  }
  l = l * alpha + vsum(sum);
  m = m_new;
  if (alpha != 1.0f) {
    const Vec a = vset1(alpha);
    for (int64_t d = 0; d < D; d += kW) vstore(acc + d, vmul(vload(acc + d), a));
  }
  return true;
}

// The finished rows of a query block: out = acc / l in the output dtype, lse = m + log l.
template <typename T>
static void store_output(const FlashProblem& p, int64_t bh, int64_t q0, int64_t rows,
                         const float* acc, const float* m, const float* l) {
  const int64_t D = p.D, b = bh / p.H, h = bh % p.H;
  for (int64_t r = 0; r < rows; ++r) {
    T* o = static_cast<T*>(p.o) + b * p.o_stride[0] + h * p.o_stride[1] + (q0 + r) * p.o_stride[2];
    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
    for (int64_t d = 0; d < D; ++d) store_f32(acc[r * D + d] * inv, o + d);
    p.lse[bh * p.Tq + q0 + r] = l[r] > 0 ? m[r] + logf(l[r]) : kNegInf;
  }
}

template <typename T>
static void forward_t(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nqb = query_blocks(p);
  Scratch buf(kBlockQ * D + kBlockQ * kBlockK + kBlockQ * D + 2 * kBlockQ + kBlockK);
  float* Qs = buf.base;
  float* S = Qs + kBlockQ * D;
  float* acc = S + kBlockQ * kBlockK;
  float* m = acc + kBlockQ * D;
  float* l = m + kBlockQ;
  float* bias = l + kBlockQ;
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nqb, b = bh / p.H, h = bh % p.H, q0 = (w % nqb) * kBlockQ;
    const int64_t rows = imin(kBlockQ, p.Tq - q0);
    pack_rows<T>(p.q, p.q_stride, b, h, q0, rows, D, p.scale, Qs);
    for (int64_t r = 0; r < rows; ++r) {
      m[r] = kNegInf;
      l[r] = 0.0f;
    }
    std::memset(acc, 0, sizeof(float) * size_t(rows * D));
    for (int64_t k0 = 0; k0 < p.Tk; k0 += kBlockK) {
      const int64_t nk = imin(kBlockK, p.Tk - k0), nkp = round_up(nk, kPanel);
      const KeyBlock kb = key_block(p, bh, k0 / kBlockK);
      key_bias(p, b, k0, nk, nkp, bias);
      gemm(rows, nkp, D, Qs, D, kb.kt, kBlockK, S, nkp, false);
      for (int64_t r = 0; r < rows; ++r) {
        float* s = S + r * nkp;
        if (!softmax_step(s, bias, nkp, 1.0f, m[r], l[r], acc + r * D, D)) continue;
        if (p.dropout_p > 0) apply_dropout(p, bh, q0 + r, k0, nk, s);
      }
      gemm(rows, D, nkp, S, nkp, kb.v, D, acc, D, true);
    }
    store_output<T>(p, bh, q0, rows, acc, m, l);
  }
}

// Transposes a rows x cols block (row stride ld) into dst (row stride rows).
static void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * ld + c];
}

// Shared by both backward passes: for query rows [q0, q0 + rows) and keys [k0, k0 + nk):
// S -> P (in `P`), dP -> dS (in `dS`). Qs is the scaled query block, dOs the output gradient
// block, Kt / Vt the packed key / value blocks as columns (leading dim kBlockK).
static void scores_and_grads(const FlashProblem& p, int64_t bh, int64_t q0, int64_t rows,
                             int64_t k0, int64_t nk, int64_t nkp, const float* Qs, const float* dOs,
                             const float* Kt, const float* Vt, const float* bias, float* P,
                             float* dS) {
  const int64_t D = p.D;
  gemm(rows, nkp, D, Qs, D, Kt, kBlockK, P, nkp, false);
  gemm(rows, nkp, D, dOs, D, Vt, kBlockK, dS, nkp, false);
  for (int64_t r = 0; r < rows; ++r) {
    float* pr = P + r * nkp;
    float* dr = dS + r * nkp;
    probabilities(pr, bias, nkp, p.lse[bh * p.Tq + q0 + r]);
    const float delta = p.delta[bh * p.Tq + q0 + r];
    if (p.dropout_p > 0) {
      // P keeps the undropped probabilities for dS; the dropped ones multiply dO V^T.
      const float keep_scale = 1.0f / (1.0f - p.dropout_p);
      for (int64_t j = 0; j < nk; ++j) {
        const bool keep = dropout_keep(p.seed, bh, q0 + r, k0 + j, p.Tq, p.Tk, p.dropout_p);
        dr[j] = pr[j] * ((keep ? dr[j] * keep_scale : 0.0f) - delta);
      }
      for (int64_t j = nk; j < nkp; ++j) dr[j] = 0.0f;
    } else {
      const Vec dv = vset1(delta);
      for (int64_t j = 0; j < nkp; j += kW)
        vstore(dr + j, vmul(vload(pr + j), vsub(vload(dr + j), dv)));
    }
  }
}

template <typename T>
static void store_rows(const float* src, int64_t rows, int64_t D, float scale, void* dst_base,
                       int64_t offset) {
  T* dst = static_cast<T*>(dst_base) + offset;
  for (int64_t i = 0; i < rows * D; ++i) store_f32(src[i] * scale, dst + i);
}

template <typename T>
static void backward_dkdv_t(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nkb = key_blocks(p), nqb = query_blocks(p);
  Scratch buf(2 * kBlockK * D + 2 * kBlockQ * kBlockK + kBlockK * kBlockQ + kBlockK);
  float* dK = buf.base;
  float* dV = dK + kBlockK * D;
  float* P = dV + kBlockK * D;
  float* dS = P + kBlockQ * kBlockK;
  float* Tr = dS + kBlockQ * kBlockK;
  float* bias = Tr + kBlockK * kBlockQ;
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nkb, b = bh / p.H, k0 = (w % nkb) * kBlockK;
    const int64_t nk = imin(kBlockK, p.Tk - k0), nkp = round_up(nk, kPanel);
    const KeyBlock kb = key_block(p, bh, w % nkb);
    key_bias(p, b, k0, nk, nkp, bias);
    std::memset(dK, 0, sizeof(float) * size_t(nkp * D));
    std::memset(dV, 0, sizeof(float) * size_t(nkp * D));
    for (int64_t qb = 0; qb < nqb; ++qb) {
      const int64_t q0 = qb * kBlockQ, rows = imin(kBlockQ, p.Tq - q0);
      const float* Qs = query_block(p, bh, qb);
      const float* dOs = Qs + kBlockQ * D;
      scores_and_grads(p, bh, q0, rows, k0, nk, nkp, Qs, dOs, kb.kt, kb.vt, bias, P, dS);
      if (p.dropout_p > 0)
        for (int64_t r = 0; r < rows; ++r) apply_dropout(p, bh, q0 + r, k0, nk, P + r * nkp);
      transpose(P, rows, nkp, nkp, Tr);  // dV += P^T dO
      gemm(nkp, D, rows, Tr, rows, dOs, D, dV, D, true);
      transpose(dS, rows, nkp, nkp, Tr);  // dK += dS^T (Q scale)
      gemm(nkp, D, rows, Tr, rows, Qs, D, dK, D, true);
    }
    const int64_t offset = (bh * p.Tk + k0) * D;
    store_rows<T>(dK, nk, D, 1.0f, p.dk, offset);
    store_rows<T>(dV, nk, D, 1.0f, p.dv, offset);
  }
}

template <typename T>
static void backward_dq_t(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nqb = query_blocks(p);
  Scratch buf(kBlockQ * D + 2 * kBlockQ * kBlockK + kBlockK);
  float* dQ = buf.base;
  float* P = dQ + kBlockQ * D;
  float* dS = P + kBlockQ * kBlockK;
  float* bias = dS + kBlockQ * kBlockK;
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nqb, b = bh / p.H, q0 = (w % nqb) * kBlockQ;
    const int64_t rows = imin(kBlockQ, p.Tq - q0);
    const float* Qs = query_block(p, bh, w % nqb);
    const float* dOs = Qs + kBlockQ * D;
    std::memset(dQ, 0, sizeof(float) * size_t(rows * D));
    for (int64_t k0 = 0; k0 < p.Tk; k0 += kBlockK) {
      const int64_t nk = imin(kBlockK, p.Tk - k0), nkp = round_up(nk, kPanel);
      const KeyBlock kb = key_block(p, bh, k0 / kBlockK);
      key_bias(p, b, k0, nk, nkp, bias);
      scores_and_grads(p, bh, q0, rows, k0, nk, nkp, Qs, dOs, kb.kt, kb.vt, bias, P, dS);
      gemm(rows, D, nkp, dS, nkp, kb.k, D, dQ, D, true);
    }
    store_rows<T>(dQ, rows, D, p.scale, p.dq, (bh * p.Tq + q0) * D);
  }
}

static void forward(const FlashProblem& p, int64_t begin, int64_t end) {
  if (p.dtype == DType::F32)
    forward_t<float>(p, begin, end);
  else
    forward_t<uint16_t>(p, begin, end);
}
static void backward_dkdv(const FlashProblem& p, int64_t begin, int64_t end) {
  if (p.dtype == DType::F32)
    backward_dkdv_t<float>(p, begin, end);
  else
    backward_dkdv_t<uint16_t>(p, begin, end);
}
static void pack_keys(const FlashProblem& p, int64_t begin, int64_t end) {
  if (p.dtype == DType::F32)
    pack_keys_t<float>(p, begin, end);
  else
    pack_keys_t<uint16_t>(p, begin, end);
}
static void pack_queries(const FlashProblem& p, int64_t begin, int64_t end) {
  if (p.dtype == DType::F32)
    pack_queries_t<float>(p, begin, end);
  else
    pack_queries_t<uint16_t>(p, begin, end);
}
static void backward_dq(const FlashProblem& p, int64_t begin, int64_t end) {
  if (p.dtype == DType::F32)
    backward_dq_t<float>(p, begin, end);
  else
    backward_dq_t<uint16_t>(p, begin, end);
}
