// Collective: a c10d ProcessGroupGloo over a TCPStore (rank 0 hosts the store), or a no-op
// group of one process.
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <map>
#include <string>

#include "core/env.h"
#include "dist/c10d_group.h"
#include "musefm/distributed.h"

namespace musefm {
namespace {

class Single final : public Collective {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(std::vector<at::Tensor>&) override {}
  void broadcast(std::vector<at::Tensor>&, int root) override {
    MUSEFM_CHECK(root == 0, "broadcast: root ", root, " in a group of one process");
  }
  void barrier() override {}
};

}  // namespace

void RendezvousConfig::validate() const {
  MUSEFM_CHECK(world_size >= 1, "distributed: WORLD_SIZE must be >= 1, got ", world_size);
  MUSEFM_CHECK(rank >= 0 && rank < world_size, "distributed: RANK ", rank,
               " is outside [0, WORLD_SIZE = ", world_size, ")");
  MUSEFM_CHECK(local_rank >= 0, "distributed: LOCAL_RANK must be >= 0, got ", local_rank);
  MUSEFM_CHECK(master_port >= 1 && master_port <= 65535, "distributed: MASTER_PORT ", master_port,
               " is not a TCP port");
  MUSEFM_CHECK(world_size == 1 || !master_addr.empty(), "distributed: MASTER_ADDR is empty");
  MUSEFM_CHECK(timeout.count() > 0, "distributed: the timeout must be positive");
}

RendezvousConfig RendezvousConfig::from_env() {
  RendezvousConfig c;
  const detail::LaunchRank launch = detail::launch_rank_from_env();
  c.world_size = launch.world_size;
  c.rank = launch.rank;
  c.local_rank = launch.local_rank;
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) c.master_addr = a;
  c.master_port = detail::env_int("MASTER_PORT", c.master_port);
  if (const int t = detail::env_int("MUSEFM_DIST_TIMEOUT_S", 0); t > 0)
    c.timeout = std::chrono::seconds(t);
  c.validate();
  return c;
}

std::shared_ptr<Collective> Collective::single() { return std::make_shared<Single>(); }

std::shared_ptr<Collective> Collective::gloo(const RendezvousConfig& config) {
  config.validate();
  if (config.world_size == 1) return single();
  return dist_detail::join(config, config.master_port, "gloo", [&](auto store) {
    auto o = c10d::ProcessGroupGloo::Options::create_default(config.timeout);
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, config.rank, config.world_size, o);
  });
}

#ifndef MUSEFM_WITH_NCCL
bool Collective::nccl_available() { return false; }
std::shared_ptr<Collective> Collective::nccl(const RendezvousConfig& config, int) {
  config.validate();
  if (config.world_size == 1) return single();
  MUSEFM_FAIL(
      "distributed: this build of musefm has no NCCL (it was built without CUDA or without "
      "nccl.h); use gloo");
}
#endif

std::shared_ptr<Collective> Collective::from_env() { return gloo(RendezvousConfig::from_env()); }

}  // namespace musefm
