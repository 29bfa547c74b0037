// Internal: integer environment variables and the process grid a launcher describes (torchrun's
// RANK / WORLD_SIZE, srun's SLURM_PROCID / SLURM_NTASKS), shared by the c10d rendezvous
// (dist/collective.cpp) and sharded batch jobs (io/shards.cpp).
#pragma once

#include <cerrno>
#include <cstdlib>
#include <string>

#include "musefm/error.h"

namespace musefm::detail {

/// Integer environment variable, or `fallback` when unset or empty (`found` says which);
/// a malformed or negative value is an error naming the variable.
inline int env_int(const char* name, int fallback, bool* found = nullptr) {
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

/// This process's place in a launch: torchrun's variables first, else srun's, else 0 of 1.
struct LaunchRank {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string source;  ///< "RANK/WORLD_SIZE", "SLURM_PROCID/SLURM_NTASKS" or "" (none)
};

inline LaunchRank launch_rank_from_env() {
  LaunchRank r;
  bool found = false;
  const int torchrun = env_int("WORLD_SIZE", 1, &found);
  if (found) {
    r = {env_int("RANK", 0), torchrun, env_int("LOCAL_RANK", 0), "RANK/WORLD_SIZE"};
    MUSEFM_CHECK(std::getenv("RANK") != nullptr || torchrun == 1, "WORLD_SIZE=", torchrun,
                 " is set but RANK is not");
    return r;
  }
  const int slurm = env_int("SLURM_NTASKS", 1, &found);
  if (found)
    r = {env_int("SLURM_PROCID", 0), slurm, env_int("SLURM_LOCALID", 0),
         "SLURM_PROCID/SLURM_NTASKS"};
  return r;
}

}  // namespace musefm::detail
