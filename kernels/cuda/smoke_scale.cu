// Placeholder CUDA op that keeps the compile-only CUDA target honest until the attention
// kernels land: y[i] = a * x[i]. One op per file (see DESIGN.md).
#include <cuda_runtime.h>

namespace musefm::kernels {

__global__ void smoke_scale_kernel(const float* __restrict__ x, float* __restrict__ y, float a,
                                   int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i];
}

cudaError_t smoke_scale(const float* x, float* y, float a, int n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const int threads = 256;
  const int blocks = (n + threads - 1) / threads;
  smoke_scale_kernel<<<blocks, threads, 0, stream>>>(x, y, a, n);
  return cudaGetLastError();
}

}  // namespace musefm::kernels
