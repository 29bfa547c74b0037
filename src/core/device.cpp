#include "core/device.h"

#include <ATen/Context.h>

#include "musefm/error.h"

namespace musefm::detail {

c10::Device checked_device(const std::string& device) {
  c10::Device dev(c10::kCPU);
  try {
    dev = c10::Device(device);
  } catch (const std::exception&) {
    MUSEFM_FAIL("device '", device, "': expected cpu, cuda or cuda:N");
  }
  MUSEFM_CHECK(dev.is_cpu() || (dev.is_cuda() && at::hasCUDA()), "device '", device,
               "': ", dev.is_cuda() ? "no CUDA device is available" : "unsupported device type");
  return dev;
}

}  // namespace musefm::detail
