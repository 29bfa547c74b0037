// Collective::nccl: a c10d ProcessGroupNCCL (CUDA tensors reduced on the GPUs), built when
// libtorch has CUDA and nccl.h is found. It meets its peers through its own TCPStore at
// MASTER_PORT + 1 (the gloo group of the same job holds MASTER_PORT).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "dist/c10d_group.h"

namespace musefm {

bool Collective::nccl_available() { return true; }

std::shared_ptr<Collective> Collective::nccl(const RendezvousConfig& config, int device) {
  config.validate();
  if (config.world_size == 1) return single();
  MUSEFM_CHECK(device >= 0 && device < int(c10::cuda::device_count()), "distributed: CUDA device ",
               device, " does not exist (", int(c10::cuda::device_count()), " visible)");
  c10::cuda::set_device(c10::DeviceIndex(device));
  return dist_detail::join(
      config, config.master_port + 1, "nccl",
      [&](auto store) {
        auto o = c10d::ProcessGroupNCCL::Options::create();
        o->timeout = config.timeout;
        return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, config.rank, config.world_size,
                                                           o);
      },
      /*cuda=*/true);
}

}  // namespace musefm
