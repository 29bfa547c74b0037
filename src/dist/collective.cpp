// Collective: a c10d ProcessGroupGloo over a TCPStore (rank 0 hosts the store), or a no-op
// group of one process.
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <string>

#include "musefm/distributed.h"

namespace musefm {
namespace {

// Integer environment variable, or `fallback` when unset; malformed values are errors.
int env_int(const char* name, int fallback, bool* found = nullptr) {
  const char* v = std::getenv(name);
  if (found) *found = v != nullptr && *v;
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v, &end, 10);
  MUSEFM_CHECK(errno == 0 && end && *end == '\0' && x >= 0 && x <= 1 << 24, "environment variable ",
               name, "='", v, "' is not a non-negative integer");
  return int(x);
}

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

class Gloo final : public Collective {
 public:
  explicit Gloo(const RendezvousConfig& c) : config_(c) {
    c10d::TCPStoreOptions opts;
    opts.port = uint16_t(c.master_port);
    opts.isServer = c.rank == 0;
    opts.numWorkers = c.world_size;
    opts.waitWorkers = true;
    opts.timeout = c.timeout;
    try {
      store_ = c10::make_intrusive<c10d::TCPStore>(c.master_addr, opts);
      auto o = c10d::ProcessGroupGloo::Options::create_default(c.timeout);
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, c.rank, c.world_size, o);
    } catch (const c10::Error& e) {
      MUSEFM_FAIL("distributed: rank ", c.rank, " of ", c.world_size, " could not join the ",
                  "group at ", c.master_addr, ":", c.master_port, " within ",
                  c.timeout.count() / 1000.0, " s: ", e.what_without_backtrace());
    } catch (const std::exception& e) {
      MUSEFM_FAIL("distributed: rank ", c.rank, " of ", c.world_size, " could not join the ",
                  "group at ", c.master_addr, ":", c.master_port, " within ",
                  c.timeout.count() / 1000.0, " s: ", e.what());
    }
  }
  int rank() const override { return config_.rank; }
  int world_size() const override { return config_.world_size; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    // c10d reduces a list of same-shaped tensors (one per device): ours differ, so each dtype's
    // tensors travel as one flat buffer.
    std::map<at::ScalarType, std::vector<size_t>> by_type;
    for (size_t i = 0; i < tensors.size(); ++i) {
      MUSEFM_CHECK(tensors[i].device().is_cpu(), "all_reduce_sum: CPU tensors only (gloo)");
      by_type[tensors[i].scalar_type()].push_back(i);
    }
    for (const auto& [type, idx] : by_type) {
      std::vector<at::Tensor> parts;
      for (size_t i : idx) parts.push_back(tensors[i].reshape({-1}));
      std::vector<at::Tensor> flat{at::cat(parts)};
      run("all_reduce", [&] {
        c10d::AllreduceOptions o;
        o.reduceOp = c10d::ReduceOp::SUM;
        return pg_->allreduce(flat, o);
      });
      int64_t at = 0;
      for (size_t i : idx) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(flat[0].narrow(0, at, n).view(tensors[i].sizes()));
        at += n;
      }
    }
  }
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    MUSEFM_CHECK(root >= 0 && root < config_.world_size, "broadcast: root ", root, " outside the ",
                 config_.world_size, " ranks");
    run("broadcast", [&] {
      c10d::BroadcastOptions o;
      o.rootRank = root;
      return pg_->broadcast(tensors, o);
    });
  }
  void barrier() override {
    run("barrier", [&] { return pg_->barrier(c10d::BarrierOptions()); });
  }

 private:
  template <typename F>
  void run(const char* what, F&& start) {
    try {
      auto work = start();
      work->wait(config_.timeout);
    } catch (const c10::Error& e) {
      MUSEFM_FAIL("distributed ", what, " failed on rank ", config_.rank, " of ",
                  config_.world_size, " (a peer died or timed out after ",
                  config_.timeout.count() / 1000.0, " s?): ", e.what_without_backtrace());
    } catch (const std::exception& e) {
      MUSEFM_FAIL("distributed ", what, " failed on rank ", config_.rank, " of ",
                  config_.world_size, " (a peer died or timed out after ",
                  config_.timeout.count() / 1000.0, " s?): ", e.what());
    }
  }

  RendezvousConfig config_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
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
  bool torchrun = false, slurm = false;
  const int ws = env_int("WORLD_SIZE", 1, &torchrun);
  if (torchrun) {
    c.world_size = ws;
    c.rank = env_int("RANK", 0);
    c.local_rank = env_int("LOCAL_RANK", 0);
  } else {
    const int n = env_int("SLURM_NTASKS", 1, &slurm);
    if (slurm) {
      c.world_size = n;
      c.rank = env_int("SLURM_PROCID", 0);
      c.local_rank = env_int("SLURM_LOCALID", 0);
    }
  }
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) c.master_addr = a;
  c.master_port = env_int("MASTER_PORT", c.master_port);
  if (const int t = env_int("MUSEFM_DIST_TIMEOUT_S", 0); t > 0) c.timeout = std::chrono::seconds(t);
  c.validate();
  return c;
}

std::shared_ptr<Collective> Collective::single() { return std::make_shared<Single>(); }

std::shared_ptr<Collective> Collective::gloo(const RendezvousConfig& config) {
  config.validate();
  if (config.world_size == 1) return single();
  return std::make_shared<Gloo>(config);
}

std::shared_ptr<Collective> Collective::from_env() { return gloo(RendezvousConfig::from_env()); }

}  // namespace musefm
