// Internal: device names from configs and flags, checked before any tensor is moved.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace musefm::detail {

/// at::Device for "cpu", "cuda" or "cuda:N"; a clear error for an unknown name or a CUDA
/// device on a machine without one (instead of a CUDA runtime error deep inside a forward).
c10::Device checked_device(const std::string& device);

}  // namespace musefm::detail
