// Internal: 8-lane float vector ops (AVX2 + FMA) for flash_kernel.h. Include only from a
// translation unit compiled with -mavx2 -mfma, inside its own namespace.
// needs <immintrin.h>, included by the translation unit

constexpr int kW = 8;
struct Vec {
  __m256 v;
};
static inline Vec vzero() { return {_mm256_setzero_ps()}; }
static inline Vec vset1(float x) { return {_mm256_set1_ps(x)}; }
static inline Vec vload(const float* p) { return {_mm256_loadu_ps(p)}; }
static inline void vstore(float* p, Vec a) { _mm256_storeu_ps(p, a.v); }
static inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
static inline Vec vadd(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
static inline Vec vsub(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
static inline Vec vmul(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
static inline Vec vmax(Vec a, Vec b) { return {_mm256_max_ps(a.v, b.v)}; }
static inline Vec vmin(Vec a, Vec b) { return {_mm256_min_ps(a.v, b.v)}; }
// a < b ? x : y, per lane
static inline Vec vselect_lt(Vec a, Vec b, Vec x, Vec y) {
  return {_mm256_blendv_ps(y.v, x.v, _mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ))};
}
static inline float vsum(Vec a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float vhmax(Vec a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline Vec vexp(Vec x) {
  const __m256 lo = _mm256_set1_ps(-87.0f);
  const __m256 alive = _mm256_cmp_ps(x.v, lo, _CMP_GE_OQ);
  __m256 t = _mm256_max_ps(x.v, lo);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  t = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), t);
  t = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), t);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(t, t), _mm256_add_ps(t, _mm256_set1_ps(1.0f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return {_mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), alive)};
}
