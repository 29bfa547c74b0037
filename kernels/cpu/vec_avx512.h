// Internal: 16-lane float vector ops (AVX-512F) for flash_kernel.h. Include only from a
// translation unit compiled with -mavx512f, inside its own namespace.
// needs <immintrin.h>, included by the translation unit

constexpr int kW = 16;
struct Vec {
  __m512 v;
};
static inline Vec vzero() { return {_mm512_setzero_ps()}; }
static inline Vec vset1(float x) { return {_mm512_set1_ps(x)}; }
static inline Vec vload(const float* p) { return {_mm512_loadu_ps(p)}; }
static inline void vstore(float* p, Vec a) { _mm512_storeu_ps(p, a.v); }
static inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
static inline Vec vadd(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
static inline Vec vsub(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
static inline Vec vmul(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
static inline Vec vmax(Vec a, Vec b) { return {_mm512_max_ps(a.v, b.v)}; }
static inline Vec vmin(Vec a, Vec b) { return {_mm512_min_ps(a.v, b.v)}; }
// a < b ? x : y, per lane
static inline Vec vselect_lt(Vec a, Vec b, Vec x, Vec y) {
  return {_mm512_mask_blend_ps(_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ), y.v, x.v)};
}
static inline float vsum(Vec a) { return _mm512_reduce_add_ps(a.v); }
static inline float vhmax(Vec a) { return _mm512_reduce_max_ps(a.v); }
// exp(x) for x <= 0 (softmax), ~1 ulp in [-87, 0]; below -87 (incl. -inf) exactly 0.
static inline Vec vexp(Vec x) {
  const __m512 lo = _mm512_set1_ps(-87.0f);
  const __mmask16 dead = _mm512_cmp_ps_mask(x.v, lo, _CMP_LT_OQ);
  __m512 t = _mm512_max_ps(x.v, lo);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  t = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), t);
  t = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), t);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(t, t), _mm512_add_ps(t, _mm512_set1_ps(1.0f)));
  const __m512i e =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  const __m512 r = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
  return {_mm512_maskz_mov_ps(static_cast<__mmask16>(~dead), r)};
}
