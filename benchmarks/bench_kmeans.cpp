// bench_kmeans ROWS.npy K OUT_CENTROIDS.npy [THREADS [CONFIG_JSON]]: fits musefm's k-means
// (default KMeansConfig, or CONFIG_JSON's fields; seed 0) on the rows, writes the centroids and
// prints
// {"fit_s", "inertia", "minibatch_steps", "refine_iterations", "threads"} for
// benchmarks/compare_kmeans.py.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "musefm/npy.h"
#include "musefm/teachers.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: bench_kmeans ROWS.npy K OUT_CENTROIDS.npy [THREADS [CONFIG_JSON]]\n");
    return 2;
  }
  try {
    if (argc > 4) at::set_num_threads(std::atoi(argv[4]));
    musefm::NpyArray in = musefm::read_npy(argv[1]);
    const at::Tensor x = at::from_blob(in.data.data(), in.shape, at::kFloat);
    musefm::KMeansConfig c;
    if (argc > 5) c = musefm::KMeansConfig::from_json(argv[5]);
    c.k = std::atoi(argv[2]);
    musefm::KMeansReport rep;
    const auto t0 = std::chrono::steady_clock::now();
    const musefm::KMeans km = musefm::KMeans::fit(x, c, nullptr, {}, &rep);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const at::Tensor cen = km.centroids().contiguous();
    musefm::write_npy(argv[3], cen.data_ptr<float>(), {cen.size(0), cen.size(1)});
    std::printf(
        "{\"fit_s\": %.4f, \"inertia\": %.8g, \"sample_iterations\": %d, "
        "\"minibatch_steps\": %lld, \"refine_iterations\": %d, \"threads\": %d}\n",
        s, rep.inertia, rep.sample_iterations, static_cast<long long>(rep.minibatch_steps),
        rep.refine_iterations, at::get_num_threads());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kmeans: %s\n", e.what());
    return 1;
  }
}
