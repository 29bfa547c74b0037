// Internal: the inference forward of CPU flash attention for bfloat16 inputs on CPUs with
// AVX-512 BF16: both products (Q K^T and P V) run on vdpbf16ps, two bf16 products per lane
// accumulated in fp32, i.e. twice the multiply rate of the fp32 kernel. Q, K and V are used as
// given (bf16, exact); S is scaled and the online softmax runs in fp32; P is rounded to bf16 for
// P V (as PyTorch's bf16 CPU flash attention does). Include after flash_kernel.h in a
// translation unit compiled with -mavx512bf16; used when dtype is BF16, without dropout and
// without a backward (dp_applies()).
//
// Packed key block (in the float workspace, half of what the fp32 layout uses):
//   kt2[d/2][j][2] = (K[j][d], K[j][d+1])   D/2 x kBlockK bf16 pairs
//   v2[j/2][d][2]  = (V[j][d], V[j+1][d])   kBlockK/2 x D bf16 pairs (zero beyond Tk)

static inline bool dp_applies(const FlashProblem& p) {
  return p.dtype == DType::BF16 && p.dout == nullptr && p.dropout_p == 0.0f;
}

struct DpKeyBlock {
  const uint16_t *kt2, *v2;
};
static DpKeyBlock dp_key_block(const FlashProblem& p, int64_t bh, int64_t kb) {
  const auto* base = reinterpret_cast<const uint16_t*>(p.kv_packed + (bh * key_blocks(p) + kb) *
                                                                         kv_block_floats(p));
  return {base, base + p.D * kBlockK};
}

static void dp_pack_keys(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nkb = key_blocks(p);
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nkb, b = bh / p.H, h = bh % p.H, k0 = (w % nkb) * kBlockK;
    const int64_t nk = imin(kBlockK, p.Tk - k0);
    const DpKeyBlock kb = dp_key_block(p, bh, w % nkb);
    auto* kt2 = const_cast<uint16_t*>(kb.kt2);
    auto* v2 = const_cast<uint16_t*>(kb.v2);
    for (int64_t j = 0; j < kBlockK; ++j) {
      const uint16_t* k = j < nk ? at_row<uint16_t>(p.k, p.k_stride, b, h, k0 + j) : nullptr;
      const uint16_t* v = j < nk ? at_row<uint16_t>(p.v, p.v_stride, b, h, k0 + j) : nullptr;
      for (int64_t d = 0; d < D; ++d) {
        kt2[(d / 2) * 2 * kBlockK + 2 * j + (d & 1)] = k ? k[d] : 0;
        v2[(j / 2) * 2 * D + 2 * d + (j & 1)] = v ? v[d] : 0;
      }
    }
  }
}

// C[MR x 2W] (+)= A[MR x 2K2] B[2K2 x 2W] on bf16 pairs: A rows of K2 pairs (row stride lda
// pairs), B rows of 2W pairs (row stride ldb pairs), C fp32.
template <int MR>
static inline void dp_tile(int64_t K2, const uint32_t* A, int64_t lda, const uint32_t* B,
                           int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  __m512 c0[MR], c1[MR];
  for (int r = 0; r < MR; ++r) {
    c0[r] = accumulate ? _mm512_loadu_ps(C + r * ldc) : _mm512_setzero_ps();
    c1[r] = accumulate ? _mm512_loadu_ps(C + r * ldc + kW) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < K2; ++k) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(B + k * ldb);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(B + k * ldb + kW);
    for (int r = 0; r < MR; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(A[r * lda + k]));
      c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
      c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_storeu_ps(C + r * ldc, c0[r]);
    _mm512_storeu_ps(C + r * ldc + kW, c1[r]);
  }
}

// C[M x N] (+)= A B as above, N a multiple of kPanel.
static void dp_gemm(int64_t M, int64_t N, int64_t K2, const uint32_t* A, int64_t lda,
                    const uint32_t* B, int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  for (int64_t n0 = 0; n0 < N; n0 += kPanel) {
    int64_t m0 = 0;
    for (; m0 + kMR <= M; m0 += kMR)
      dp_tile<kMR>(K2, A + m0 * lda, lda, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate);
    for (; m0 < M; ++m0)
      dp_tile<1>(K2, A + m0 * lda, lda, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate);
  }
}

static void dp_forward(const FlashProblem& p, int64_t begin, int64_t end) {
  const int64_t D = p.D, nqb = query_blocks(p);
  // Q (bf16) and P (bf16) blocks, S, acc, m, l, bias
  Scratch buf(kBlockQ * D / 2 + kBlockQ * kBlockK / 2 + kBlockQ * kBlockK + kBlockQ * D +
              2 * kBlockQ + kBlockK);
  auto* Qa = reinterpret_cast<uint16_t*>(buf.base);
  auto* Pa = Qa + kBlockQ * D;
  float* S = buf.base + kBlockQ * D / 2 + kBlockQ * kBlockK / 2;
  float* acc = S + kBlockQ * kBlockK;
  float* m = acc + kBlockQ * D;
  float* l = m + kBlockQ;
  float* bias = l + kBlockQ;
  for (int64_t w = begin; w < end; ++w) {
    const int64_t bh = w / nqb, b = bh / p.H, h = bh % p.H, q0 = (w % nqb) * kBlockQ;
    const int64_t rows = imin(kBlockQ, p.Tq - q0);
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(Qa + r * D, at_row<uint16_t>(p.q, p.q_stride, b, h, q0 + r), size_t(D) * 2);
      m[r] = kNegInf;
      l[r] = 0.0f;
    }
    std::memset(acc, 0, sizeof(float) * size_t(rows * D));
    for (int64_t k0 = 0; k0 < p.Tk; k0 += kBlockK) {
      const int64_t nk = imin(kBlockK, p.Tk - k0), nkp = round_up(nk, kPanel);
      const DpKeyBlock kb = dp_key_block(p, bh, k0 / kBlockK);
      key_bias(p, b, k0, nk, nkp, bias);
      dp_gemm(rows, nkp, D / 2, reinterpret_cast<const uint32_t*>(Qa), D / 2,
              reinterpret_cast<const uint32_t*>(kb.kt2), kBlockK, S, nkp, false);
      for (int64_t r = 0; r < rows; ++r) {
        float* s = S + r * nkp;
        softmax_step(s, bias, nkp, p.scale, m[r], l[r], acc + r * D, D);
        uint16_t* pr = Pa + r * nkp;  // P in bf16 pairs for P V (zeros when no key is visible)
        for (int64_t j = 0; j < nkp; j += 2 * kW)
          _mm512_storeu_si512(pr + j,
                              (__m512i)_mm512_cvtne2ps_pbh(vload(s + j + kW).v, vload(s + j).v));
      }
      dp_gemm(rows, D, nkp / 2, reinterpret_cast<const uint32_t*>(Pa), nkp / 2,
              reinterpret_cast<const uint32_t*>(kb.v2), D, acc, D, true);
    }
    store_output<uint16_t>(p, bh, q0, rows, acc, m, l);
  }
}

static void dp_or_pack_keys(const FlashProblem& p, int64_t begin, int64_t end) {
  if (dp_applies(p))
    dp_pack_keys(p, begin, end);
  else
    pack_keys(p, begin, end);
}
static void dp_or_forward(const FlashProblem& p, int64_t begin, int64_t end) {
  if (dp_applies(p))
    dp_forward(p, begin, end);
  else
    forward(p, begin, end);
}
