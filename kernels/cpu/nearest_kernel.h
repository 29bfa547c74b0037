// Internal: nearest centroid of each row (k-means assignment), distances and arg-min fused, so
// that the [rows, K] distance matrix never leaves the registers. Written against the vector
// ops of vec_*.h and included once per instruction set inside its namespace (as
// flash_kernel.h). The caller pads K to a multiple of kW: zero columns in cT with cn = +inf.
// needs <cstdint>, <cmath>

// Rows processed together: each centroid column loaded once serves them all.
constexpr int kNearestRows = kW == 16 ? 8 : 4;

static void nearest(const NearestProblem& p, int64_t begin, int64_t end) {
  constexpr int R = kNearestRows;
  const int64_t D = p.D, Kp = p.Kp;
  float lane_k[kW];
  for (int l = 0; l < kW; ++l) lane_k[l] = float(l);
  const Vec lanes = vload(lane_k), minus2 = vset1(-2.0f), inf = vset1(INFINITY);
  for (int64_t r0 = begin; r0 < end; r0 += R) {
    const int nr = int(end - r0 < R ? end - r0 : R);
    const float* xr[R];
    for (int i = 0; i < R; ++i) xr[i] = p.x + (r0 + (i < nr ? i : nr - 1)) * D;
    Vec best[R], arg[R];
    for (int i = 0; i < R; ++i) best[i] = inf, arg[i] = vzero();
    for (int64_t k = 0; k < Kp; k += kW) {
      Vec dot[R];
      for (int i = 0; i < R; ++i) dot[i] = vzero();
      const float* c = p.cT + k;
      for (int64_t d = 0; d < D; ++d) {
        const Vec cd = vload(c + d * Kp);
        for (int i = 0; i < R; ++i) dot[i] = vfmadd(vset1(xr[i][d]), cd, dot[i]);
      }
      const Vec cn = vload(p.cn + k), kv = vadd(lanes, vset1(float(k)));
      for (int i = 0; i < R; ++i) {
        const Vec dist = vfmadd(minus2, dot[i], cn);  // ||c||^2 - 2 x.c
        arg[i] = vselect_lt(dist, best[i], kv, arg[i]);
        best[i] = vmin(dist, best[i]);
      }
    }
    for (int i = 0; i < nr; ++i) {
      float b[kW], a[kW];
      vstore(b, best[i]);
      vstore(a, arg[i]);
      int w = 0;  // smallest distance; on ties the smallest index (as torch's min)
      for (int l = 1; l < kW; ++l)
        if (b[l] < b[w] || (b[l] == b[w] && a[l] < a[w])) w = l;
      float xn = 0;
      for (int64_t d = 0; d < D; ++d) xn += xr[i][d] * xr[i][d];
      const float d2 = b[w] + xn;
      p.idx[r0 + i] = int64_t(a[w]);
      p.d2[r0 + i] = d2 > 0 ? d2 : 0.0f;
    }
  }
}
