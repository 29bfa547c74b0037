// Precompiled header of libmusefm: libtorch's ATen headers dominate compile time.
#pragma once
#include <ATen/ATen.h>
