// Internal: 8-lane float "vectors" in plain C++ for flash_kernel.h (any CPU; the compiler
// vectorises the lane loops for the baseline instruction set).
// needs <cmath>, included by the translation unit

constexpr int kW = 8;
struct Vec {
  float v[kW];
};
static inline Vec vzero() { return Vec{}; }
static inline Vec vset1(float x) {
  Vec r;
  for (int i = 0; i < kW; ++i) r.v[i] = x;
  return r;
}
static inline Vec vload(const float* p) {
  Vec r;
  for (int i = 0; i < kW; ++i) r.v[i] = p[i];
  return r;
}
static inline void vstore(float* p, Vec a) {
  for (int i = 0; i < kW; ++i) p[i] = a.v[i];
}
static inline Vec vfmadd(Vec a, Vec b, Vec c) {
  for (int i = 0; i < kW; ++i) c.v[i] += a.v[i] * b.v[i];
  return c;
}
static inline Vec vadd(Vec a, Vec b) {
  for (int i = 0; i < kW; ++i) a.v[i] += b.v[i];
  return a;
}
static inline Vec vsub(Vec a, Vec b) {
  for (int i = 0; i < kW; ++i) a.v[i] -= b.v[i];
  return a;
}
static inline Vec vmul(Vec a, Vec b) {
  for (int i = 0; i < kW; ++i) a.v[i] *= b.v[i];
  return a;
}
static inline Vec vmin(Vec a, Vec b) {
  for (int i = 0; i < kW; ++i) a.v[i] = b.v[i] < a.v[i] ? b.v[i] : a.v[i];
  return a;
}
// a < b ? x : y, per lane
static inline Vec vselect_lt(Vec a, Vec b, Vec x, Vec y) {
  for (int i = 0; i < kW; ++i) y.v[i] = a.v[i] < b.v[i] ? x.v[i] : y.v[i];
  return y;
}
static inline Vec vmax(Vec a, Vec b) {
  for (int i = 0; i < kW; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
  return a;
}
static inline float vsum(Vec a) {
  float s = 0;
  for (int i = 0; i < kW; ++i) s += a.v[i];
  return s;
}
static inline float vhmax(Vec a) {
  float m = a.v[0];
  for (int i = 1; i < kW; ++i) m = a.v[i] > m ? a.v[i] : m;
  return m;
}
static inline Vec vexp(Vec x) {
  for (int i = 0; i < kW; ++i) x.v[i] = x.v[i] < -87.0f ? 0.0f : std::exp(x.v[i]);
  return x;
}
