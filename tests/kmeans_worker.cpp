// kmeans_worker OUT.safetensors [die]: one rank of the distributed k-means test. Joins the
// group from RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, fits k-means on its share of a
// fixed synthetic dataset (rank r of n holds an unequal contiguous slice of it) and, on rank 0,
// saves the centroids. "die": rank 1 exits right after joining, to test that the others fail
// with an error instead of hanging. Exit status: 0 fitted, 3 error (message on stderr).
#include <ATen/ATen.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "musefm/distributed.h"
#include "musefm/teachers.h"

namespace {

// 6000 rows in 8 dimensions around 10 centres; identical in every process.
at::Tensor dataset() {
  at::Generator g = at::detail::createCPUGenerator(7);
  const at::Tensor centres = at::randn({10, 8}, g) * 4;
  const at::Tensor which = at::randint(10, {6000}, g, at::TensorOptions(at::kLong));
  return centres.index_select(0, which) + at::randn({6000, 8}, g);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kmeans_worker OUT.safetensors [die]\n");
    return 2;
  }
  try {
    auto group = musefm::Collective::from_env();
    const int r = group->rank(), n = group->world_size();
    if (argc > 2 && std::strcmp(argv[2], "die") == 0 && r == 1) return 0;
    const at::Tensor x = dataset();
    // Rank r holds rows [N i(i+1) / (n(n+1))) for i = r, r + 1: unequal shares (2000 and
    // 4000 rows with two ranks).
    const auto cut = [&](int64_t i) { return x.size(0) * i * (i + 1) / (n * (n + 1)); };
    const int64_t a = cut(r), b = cut(r + 1);
    musefm::KMeansConfig c;
    c.k = 10;
    c.batch_size = 500;
    c.max_epochs = 2;
    c.max_no_improvement = 0;
    c.refine_iterations = 5;
    c.refine_tol = 0;
    c.seed = 3;
    musefm::KMeansReport rep;
    const musefm::KMeans km = musefm::KMeans::fit(x.narrow(0, a, b - a), c, group.get(), {}, &rep);
    const double inertia = km.inertia(x.narrow(0, a, b - a), group.get());
    if (r == 0)
      km.save(argv[1], {{"inertia", std::to_string(inertia)},
                        {"steps", std::to_string(rep.minibatch_steps)}});
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kmeans_worker: %s\n", e.what());
    return 3;
  }
}
