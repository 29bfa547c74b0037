// musefm/distributed.h — the collectives a multi-process job needs (k-means teachers,
// pretraining), on PyTorch's c10d: gloo on CPU, NCCL for CUDA tensors.
//
//   auto group = musefm::Collective::from_env();   // RANK, WORLD_SIZE, MASTER_ADDR/PORT
//   std::vector<at::Tensor> t{sums, counts};         // or SLURM_PROCID / SLURM_NTASKS
//   group->all_reduce_sum(t);                         // in place, on every rank
//
// A single process (no environment) gets a Collective of world size 1 whose reductions are
// no-ops, so library code is written once for both.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "musefm/error.h"

namespace musefm {

/// Where the ranks of a job meet: the launcher's variables (torchrun: RANK, WORLD_SIZE,
/// LOCAL_RANK, MASTER_ADDR, MASTER_PORT; SLURM: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
/// with MASTER_ADDR / MASTER_PORT set by the batch script).
struct RendezvousConfig {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  ///< a dead peer -> error

  /// From the environment; world size 1 when neither torchrun's nor SLURM's variables are
  /// set. Malformed values (non-numeric, rank >= world size, port out of range) throw.
  static RendezvousConfig from_env();
  void validate() const;
};

/// Sum-reduction and broadcast across the ranks of a job. Not thread-safe: one caller at a
/// time, and every rank must make the same sequence of calls.
class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// Element-wise sum over ranks, in place (every rank gets the result). CPU tensors.
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
  /// Rank `root`'s values to every rank, in place.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root = 0) = 0;
  virtual void barrier() = 0;
  /// True when the group reduces CUDA tensors (NCCL); false: CPU tensors (gloo).
  virtual bool reduces_cuda() const { return false; }

  /// World size 1: every operation is a no-op.
  static std::shared_ptr<Collective> single();
  /// A c10d gloo process group (TCP store at master_addr:master_port, rank 0 hosts it);
  /// world size 1 gives single().
  static std::shared_ptr<Collective> gloo(const RendezvousConfig& config);
  /// gloo(RendezvousConfig::from_env()).
  static std::shared_ptr<Collective> from_env();
  /// A c10d NCCL process group on CUDA device `device` (its own TCPStore at master_port + 1);
  /// world size 1 gives single(). Throws when this build has no NCCL.
  static std::shared_ptr<Collective> nccl(const RendezvousConfig& config, int device);
  /// Whether this build of musefm has NCCL (libtorch with CUDA and nccl.h at build time).
  static bool nccl_available();
};

}  // namespace musefm
