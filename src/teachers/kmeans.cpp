// Mini-batch k-means with k-means++ initialisation and full-batch refinement, written against
// a Collective so that a multi-process fit equals a one-process fit on the union of the rows:
// every random choice is made on global row indices with a generator seeded identically on
// every rank, and each rank contributes the rows it owns to float64 sums that are reduced.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>
#include <vector>

#include "core/config_fields.h"
#include "musefm/safetensors.h"
#include "musefm/teachers.h"
#include "nearest.h"

namespace musefm {

MUSEFM_CONFIG_FIELDS(KMeansConfig, "KMeansConfig", k, batch_size, max_epochs, max_no_improvement,
                     sample_iterations, sample_size, refine_iterations, refine_tol, init_size,
                     n_init, seed);

void KMeansConfig::validate() const {
  const char* w = "KMeansConfig";
  MUSEFM_CHECK(k >= 1 && k <= 1 << 20, w, ".k must be in [1, 1048576], got ", k);
  MUSEFM_CHECK(batch_size >= 1, w, ".batch_size must be >= 1, got ", batch_size);
  MUSEFM_CHECK(max_epochs >= 0, w, ".max_epochs must be >= 0, got ", max_epochs);
  MUSEFM_CHECK(max_no_improvement >= 0, w, ".max_no_improvement must be >= 0, got ",
               max_no_improvement);
  MUSEFM_CHECK(refine_iterations >= 0, w, ".refine_iterations must be >= 0, got ",
               refine_iterations);
  MUSEFM_CHECK(std::isfinite(refine_tol) && refine_tol >= 0, w,
               ".refine_tol must be finite and >= 0, got ", refine_tol);
  MUSEFM_CHECK(init_size >= 0, w, ".init_size must be >= 0 (0 = automatic), got ", init_size);
  MUSEFM_CHECK(sample_iterations >= 0, w, ".sample_iterations must be >= 0, got ",
               sample_iterations);
  MUSEFM_CHECK(sample_size >= 0, w, ".sample_size must be >= 0 (0 = automatic), got ", sample_size);
  MUSEFM_CHECK(n_init >= 1 && n_init <= 1000, w, ".n_init must be in [1, 1000], got ", n_init);
}

MUSEFM_CONFIG_JSON(KMeansConfig);

namespace {

constexpr int64_t kChunkRows = 4096;  // rows per distance GEMM (bounds the [rows, K] buffer)

std::shared_ptr<Collective> or_single(Collective* g) {
  return g ? std::shared_ptr<Collective>(g, [](Collective*) {}) : Collective::single();
}

// Every value finite: the sum is finite unless a value is not (or it overflows; one pass, no mask);
// the elementwise test only confirms a non-finite sum.
bool all_finite(const at::Tensor& x) {
  if (x.numel() == 0 || std::isfinite(x.sum().item<float>())) return true;
  return at::isfinite(x).all().item<bool>();
}

// Nearest centroid and squared distance for every row: ||x||^2 - 2 x.c + ||c||^2. On the CPU
// the fused kernel (kernels/nearest.h); elsewhere distance GEMMs over row chunks.
std::pair<at::Tensor, at::Tensor> nearest(const at::Tensor& x, const at::Tensor& c) {
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous())
    return kernels::nearest_centroids(x, c.to(at::kFloat));
  const at::Tensor cn = c.square().sum(1);
  std::vector<at::Tensor> ids, d2;
  for (int64_t a = 0; a < x.size(0); a += kChunkRows) {
    const at::Tensor xs = x.narrow(0, a, std::min(kChunkRows, x.size(0) - a));
    auto [m, i] = at::addmm(cn.unsqueeze(0), xs, c.t(), 1, -2).min(1);
    ids.push_back(i);
    d2.push_back((m + xs.square().sum(1)).clamp_min(0));
  }
  if (ids.empty())
    return {at::empty({0}, x.options().dtype(at::kLong)), at::empty({0}, x.options())};
  return {at::cat(ids), at::cat(d2)};
}

// Per-cluster float64 sums and counts of the rows, and their inertia.
struct Accumulated {
  at::Tensor sums, counts, inertia;  // [K, D] f64, [K] f64, [1] f64
};
Accumulated accumulate(const at::Tensor& x, const at::Tensor& c) {
  const auto dopt = x.options().dtype(at::kDouble);
  const int64_t K = c.size(0), D = c.size(1);
  Accumulated a{at::zeros({K, D}, dopt), at::zeros({K}, dopt), at::zeros({1}, dopt)};
  if (!x.device().is_cpu()) {
    for (int64_t s = 0; s < x.size(0); s += kChunkRows) {
      const at::Tensor xs = x.narrow(0, s, std::min(kChunkRows, x.size(0) - s));
      const auto [ids, d2] = nearest(xs, c);
      a.sums.index_add_(0, ids, xs.to(at::kDouble));
      a.counts.index_add_(0, ids, at::ones({xs.size(0)}, dopt));
      a.inertia += d2.sum().to(at::kDouble);
    }
    return a;
  }
  // CPU: one pass of the fused kernel, then float64 sums over at most 16 row blocks, reduced in
  // a fixed order (the block split depends on the row count only, not on the threads).
  const at::Tensor xf = x.to(at::kFloat).contiguous();
  const auto [ids, d2] = nearest(xf, c);
  const int64_t n = xf.size(0), blocks = std::clamp<int64_t>(n / 16384, 1, 16);
  const int64_t block = (n + blocks - 1) / blocks;
  at::Tensor part = at::zeros({blocks, K * D + K + 1}, dopt);
  const float* xp = xf.data_ptr<float>();
  const int64_t* ip = ids.data_ptr<int64_t>();
  const float* dp = d2.data_ptr<float>();
  double* pp = part.data_ptr<double>();
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double* sums = pp + b * (K * D + K + 1);
      double *counts = sums + K * D, *inertia = counts + K;
      for (int64_t r = b * block; r < std::min(n, (b + 1) * block); ++r) {
        double* s = sums + ip[r] * D;
        const float* row = xp + r * D;
        for (int64_t d = 0; d < D; ++d) s[d] += row[d];
        counts[ip[r]] += 1;
        *inertia += dp[r];
      }
    }
  });
  const at::Tensor total = part.sum(0);
  a.sums.copy_(total.narrow(0, 0, K * D).view({K, D}));
  a.counts.copy_(total.narrow(0, K * D, K));
  a.inertia.copy_(total.narrow(0, K * D + K, 1));
  return a;
}

// Rows of this rank among global indices `idx` (sorted or not): local positions, and where
// they sit in idx.
struct LocalPick {
  at::Tensor rows, slots;
};
LocalPick local_rows(const at::Tensor& idx, int64_t offset, int64_t n) {
  const at::Tensor mine = (idx >= offset) & (idx < offset + n);
  const at::Tensor slots = mine.nonzero().squeeze(1);
  return {idx.index_select(0, slots) - offset, slots};
}

// Gathers global rows `idx` onto every rank (each rank fills the rows it owns; a sum-reduce
// assembles them). Result [idx.numel(), D] float32, in idx order.
at::Tensor gather_rows(const at::Tensor& x, const at::Tensor& idx, int64_t offset, Collective& g) {
  const LocalPick p = local_rows(idx, offset, x.size(0));
  at::Tensor out = at::zeros({idx.numel(), x.size(1)}, x.options().dtype(at::kDouble));
  out.index_copy_(0, p.slots, x.index_select(0, p.rows).to(at::kDouble));
  std::vector<at::Tensor> t{out};
  g.all_reduce_sum(t);
  return t[0].to(at::kFloat);
}

// S distinct indices of [0, N) in random order, in O(S) (Floyd's sampling, then a shuffle):
// a randperm of N costs as much as a Lloyd iteration when N is in the millions.
at::Tensor random_subset(int64_t N, int64_t S, at::Generator& gen) {
  const at::Tensor u = at::rand({2 * S}, gen, at::TensorOptions(at::kDouble));
  const double* up = u.data_ptr<double>();
  std::unordered_set<int64_t> seen;
  seen.reserve(size_t(2 * S));
  std::vector<int64_t> out;
  out.reserve(size_t(S));
  for (int64_t j = N - S, i = 0; j < N; ++j, ++i) {
    const int64_t t = std::min(j, int64_t(up[i] * double(j + 1)));
    out.push_back(seen.insert(t).second ? t : j);
    if (out.back() == j) seen.insert(j);
  }
  for (int64_t i = S - 1; i > 0; --i)  // Fisher-Yates
    std::swap(out[size_t(i)], out[size_t(std::min(i, int64_t(up[S + i] * double(i + 1))))]);
  return at::tensor(out, at::kLong);
}

// Greedy k-means++ (as scikit-learn: 2 + ln k candidates per step, the one that lowers the
// potential most) on sample s [M, D]; deterministic for a generator.
at::Tensor kmeans_pp(const at::Tensor& s, int k, at::Generator& gen) {
  const int64_t M = s.size(0);
  const int trials = 2 + int(std::log(double(k)));
  at::Tensor centers = at::empty({k, s.size(1)}, s.options());
  const int64_t first = at::randint(M, {1}, gen, at::TensorOptions(at::kLong)).item<int64_t>();
  centers[0] = s[first];
  // Squared distances as ||s||^2 - 2 s.c + ||c||^2 (one small GEMM per step), clamped at 0.
  const at::Tensor sn = s.square().sum(1);              // [M]
  at::Tensor closest = (s - s[first]).square().sum(1);  // [M]
  for (int c = 1; c < k; ++c) {
    const double total = closest.sum().item<double>();
    at::Tensor cand;
    if (total > 0) {
      cand = at::multinomial(closest.cpu(), trials, /*replacement=*/true, gen).to(s.device());
    } else {  // all sample rows coincide with centres: any rows
      cand = at::randint(M, {trials}, gen, at::TensorOptions(at::kLong)).to(s.device());
    }
    const at::Tensor cs = s.index_select(0, cand);  // [trials, D]
    const at::Tensor d =
        at::addmm(sn.unsqueeze(0), cs, s.t(), 1, -2).add_(cs.square().sum(1, true)).clamp_min_(0);
    const at::Tensor upd = at::minimum(closest.unsqueeze(0), d);  // [trials, M]
    const int64_t best = upd.sum(1, false, at::kDouble).argmin().item<int64_t>();
    centers[c] = cs[best];
    closest = upd[best];
  }
  return centers;
}

}  // namespace

KMeans::KMeans(at::Tensor centroids) : centroids_(std::move(centroids)) {
  MUSEFM_CHECK(centroids_.dim() == 2 && centroids_.size(0) >= 1 && centroids_.size(1) >= 1,
               "KMeans: centroids must be [K, D] with K, D >= 1, got ", centroids_.sizes());
  MUSEFM_CHECK(centroids_.is_floating_point(), "KMeans: centroids must be floating point");
  centroids_ = centroids_.to(at::kFloat).contiguous();
  MUSEFM_CHECK(at::isfinite(centroids_).all().item<bool>(), "KMeans: non-finite centroid");
}

namespace {

// One fit: this rank's rows, their place among every rank's, the generator, the centres and
// the report, with one method per stage.
struct Fit {
  const KMeansConfig& c;
  Collective& g;
  const KMeansProgress& progress;
  at::Tensor x;  // this rank's rows, float32, contiguous
  at::Generator gen;
  int64_t offset = 0, N = 0;
  at::Tensor centers;
  KMeansReport rep;

  // Row counts of every rank -> this rank's global offset and N, and D agreement.
  void count_rows() {
    at::Tensor counts = at::zeros({g.world_size(), 2}, at::kDouble);
    counts[g.rank()][0] = double(x.size(0));
    counts[g.rank()][1] = double(x.size(1));
    std::vector<at::Tensor> t{counts};
    g.all_reduce_sum(t);
    const auto cnt = counts.accessor<double, 2>();
    for (int r = 0; r < g.world_size(); ++r) {
      MUSEFM_CHECK(int64_t(cnt[r][1]) == x.size(1) || cnt[r][0] == 0, "k-means: rank ", r,
                   " has rows of dimension ", int64_t(cnt[r][1]), ", this rank ", x.size(1));
      if (r < g.rank()) offset += int64_t(cnt[r][0]);
      N += int64_t(cnt[r][0]);
    }
    MUSEFM_CHECK(N >= c.k, "k-means: ", N, " rows for k = ", c.k, " clusters (need at least k)");
    rep.rows = N;
  }

  // One global sample every rank holds whole: its first M rows for k-means++ (best of n_init),
  // all of them for sample_lloyd(). Returns the sample.
  at::Tensor init() {
    const int64_t M =
        std::min(N, c.init_size > 0 ? c.init_size : std::max<int64_t>(40 * int64_t(c.k), 20000));
    const int64_t S =
        c.sample_iterations == 0
            ? M
            : std::max(M, std::min(N, c.sample_size > 0 ? c.sample_size : 256 * int64_t(c.k)));
    const at::Tensor pick = S == N ? at::arange(N, at::kLong) : random_subset(N, S, gen);
    const at::Tensor sampled = gather_rows(x, pick.to(x.device()), offset, g);
    const at::Tensor sample = sampled.narrow(0, 0, M);
    double best = std::numeric_limits<double>::infinity();
    for (int t = 0; t < c.n_init; ++t) {
      if (progress) progress("init", t, c.n_init);
      const at::Tensor cand = kmeans_pp(sample, c.k, gen);
      const double inertia = nearest(sample, cand).second.to(at::kDouble).sum().item<double>();
      if (inertia < best) best = inertia, centers = cand;
    }
    rep.history.push_back(best * double(N) / double(M));  // sample inertia, scaled to N rows
    return sampled;
  }

  // Lloyd iterations on the sample (as faiss trains on 256 rows per cluster): cheap passes
  // that bring the centres close before the passes over all rows. Every rank computes the same.
  void sample_lloyd(const at::Tensor& s) {
    double prev = std::numeric_limits<double>::infinity();
    for (int it = 0; it < c.sample_iterations; ++it) {
      if (progress) progress("sample", it, c.sample_iterations);
      const Accumulated a = accumulate(s, centers);
      const double inertia = a.inertia.item<double>();
      centers = at::where((a.counts > 0).unsqueeze(1), a.sums / a.counts.clamp_min(1).unsqueeze(1),
                          centers.to(at::kDouble))
                    .to(at::kFloat);
      ++rep.sample_iterations;
      if (prev - inertia <= c.refine_tol * inertia) break;
      prev = inertia;
    }
  }

  // Mini-batches: centre <- running mean of every row ever assigned to it.
  void minibatches() {
    const int64_t batch = std::min(c.batch_size, N);
    const int64_t steps = int64_t(c.max_epochs) * ((N + batch - 1) / batch);
    at::Tensor seen = at::zeros({c.k}, x.options().dtype(at::kDouble));
    at::Tensor centers64 = centers.to(at::kDouble);
    const double alpha = std::min(1.0, 2.0 * double(batch) / double(N + 1));
    double ewa = -1, ewa_min = std::numeric_limits<double>::infinity();
    int64_t no_improvement = 0, step = 0;
    for (; step < steps; ++step) {
      if (progress && step % 16 == 0) progress("minibatch", step, steps);
      const at::Tensor idx =
          at::randint(N, {batch}, gen, at::TensorOptions(at::kLong)).to(x.device());
      const LocalPick p = local_rows(idx, offset, x.size(0));
      Accumulated a = accumulate(x.index_select(0, p.rows), centers);
      std::vector<at::Tensor> t{a.sums, a.counts, a.inertia};
      g.all_reduce_sum(t);
      seen += a.counts;
      const at::Tensor hit = (a.counts > 0).unsqueeze(1);
      centers64 = at::where(
          hit,
          centers64 + (a.sums - a.counts.unsqueeze(1) * centers64) / seen.clamp_min(1).unsqueeze(1),
          centers64);
      centers = centers64.to(at::kFloat);
      // Early stop on the smoothed batch inertia (scikit-learn's max_no_improvement rule).
      const double bi = a.inertia.item<double>() / double(batch);
      ewa = ewa < 0 ? bi : ewa * (1 - alpha) + bi * alpha;
      if (ewa < ewa_min) {
        ewa_min = ewa;
        no_improvement = 0;
      } else if (c.max_no_improvement > 0 && ++no_improvement >= c.max_no_improvement) {
        ++step;
        break;
      }
    }
    rep.minibatch_steps = step;
  }

  // The `empty` rows farthest from their centre over all ranks (each rank offers its own
  // farthest, by global index; ties broken by that index, so every rank picks the same).
  at::Tensor farthest_rows(int64_t empty) {
    const auto [ids, d2] = nearest(x, centers);
    const int64_t m = std::min<int64_t>(empty, x.size(0));
    at::Tensor offer_d = at::full({g.world_size(), empty}, -1.0, at::kDouble);
    at::Tensor offer_i = at::zeros({g.world_size(), empty}, at::kDouble);
    if (m > 0) {
      const auto [top, pos] = d2.topk(m);
      offer_d[g.rank()].narrow(0, 0, m).copy_(top.to(at::kDouble).cpu());
      offer_i[g.rank()].narrow(0, 0, m).copy_((pos + offset).to(at::kDouble).cpu());
    }
    std::vector<at::Tensor> t{offer_d, offer_i};
    g.all_reduce_sum(t);
    const at::Tensor key = offer_d.flatten() * double(N + 1) - offer_i.flatten() / double(N + 1);
    const at::Tensor order = key.argsort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
    const at::Tensor far =
        offer_i.flatten().index_select(0, order.narrow(0, 0, empty)).to(at::kLong).to(x.device());
    return gather_rows(x, far, offset, g);
  }

  // Full-batch refinement (Lloyd) over all rows, empty clusters re-seeded at the farthest rows.
  void refine() {
    double prev = std::numeric_limits<double>::infinity();
    for (int it = 0; it <= c.refine_iterations; ++it) {
      if (progress) progress("refine", it, c.refine_iterations + 1);
      Accumulated a = accumulate(x, centers);
      std::vector<at::Tensor> t{a.sums, a.counts, a.inertia};
      g.all_reduce_sum(t);
      const double inertia = a.inertia.item<double>();
      rep.history.push_back(inertia);
      rep.inertia = inertia;
      if (it == c.refine_iterations || prev - inertia <= c.refine_tol * inertia) break;
      prev = inertia;
      rep.refine_iterations = it + 1;
      const at::Tensor filled = a.counts > 0;
      at::Tensor next = at::where(filled.unsqueeze(1), a.sums / a.counts.clamp_min(1).unsqueeze(1),
                                  centers.to(at::kDouble))
                            .to(at::kFloat);
      const int64_t empty = c.k - filled.sum().item<int64_t>();
      if (empty > 0) {
        next.index_copy_(0, (~filled).nonzero().squeeze(1), farthest_rows(empty));
        rep.reseeded_clusters += int(empty);
      }
      centers = next;
    }
  }
};

}  // namespace

KMeans KMeans::fit(const at::Tensor& x_in, const KMeansConfig& c, Collective* group_in,
                   const KMeansProgress& progress, KMeansReport* report_out) {
  c.validate();
  MUSEFM_CHECK(x_in.dim() == 2 && x_in.size(1) >= 1, "k-means: rows must be [N, D], got ",
               x_in.sizes());
  const std::shared_ptr<Collective> group = or_single(group_in);
  Fit f{c, *group, progress, x_in.to(at::kFloat).contiguous(),
        at::detail::createCPUGenerator(c.seed)};
  MUSEFM_CHECK(all_finite(f.x), "k-means: the rows hold NaN or infinite values (rank ",
               group->rank(), ")");
  f.count_rows();
  const at::Tensor sample = f.init();
  if (c.sample_iterations > 0) f.sample_lloyd(sample);
  f.minibatches();
  f.refine();
  if (report_out) *report_out = f.rep;
  return KMeans(f.centers);
}

at::Tensor KMeans::assign(const at::Tensor& x) const {
  MUSEFM_CHECK(x.dim() == 2 && x.size(1) == dim(), "k-means: rows must be [N, ", dim(), "], got ",
               x.sizes());
  MUSEFM_CHECK(x.numel() == 0 || at::isfinite(x).all().item<bool>(),
               "k-means: the rows to label hold NaN or infinite values");
  return nearest(x.to(at::kFloat).contiguous(), centroids_.to(x.device())).first;
}

double KMeans::inertia(const at::Tensor& x, Collective* group) const {
  MUSEFM_CHECK(x.dim() == 2 && x.size(1) == dim(), "k-means: rows must be [N, ", dim(), "], got ",
               x.sizes());
  std::vector<at::Tensor> t{nearest(x.to(at::kFloat).contiguous(), centroids_.to(x.device()))
                                .second.to(at::kDouble)
                                .sum()
                                .cpu()
                                .reshape({1})};
  or_single(group)->all_reduce_sum(t);
  return t[0].item<double>();
}

void KMeans::save(const std::string& path,
                  const std::map<std::string, std::string>& metadata) const {
  std::map<std::string, std::string> m = metadata;
  m["format"] = "musefm.kmeans";
  save_safetensors(path, {{"centroids", centroids_.cpu()}}, m);
}

KMeans KMeans::load(const std::string& path, std::map<std::string, std::string>* metadata) {
  const SafeTensorsFile f = SafeTensorsFile::open(path);
  MUSEFM_CHECK(f.contains("centroids"), path, ": no 'centroids' tensor (not a k-means model)");
  const at::Tensor c = f.get("centroids");
  MUSEFM_CHECK(c.dim() == 2 && c.size(0) >= 1 && c.size(1) >= 1, path,
               ": 'centroids' must be [K, D], got ", c.sizes());
  MUSEFM_CHECK(c.is_floating_point(), path, ": 'centroids' must be floating point");
  if (metadata) *metadata = f.metadata();
  try {
    return KMeans(c.clone());
  } catch (const Error& e) {
    MUSEFM_FAIL(path, ": ", e.what());
  }
}

}  // namespace musefm
