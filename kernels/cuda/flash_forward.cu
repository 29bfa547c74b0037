// CUDA flash-attention forward: one block per (64 query rows, batch x head), one thread per
// query row; key/value tiles staged in shared memory; online softmax in fp32 (flash_tile.h).
#include "cuda/flash_attention_cuda.h"

namespace musefm::kernels {
namespace {
using namespace cuda_tile;

template <typename T, int D>
__global__ void __launch_bounds__(kRows) flash_forward_kernel(Params p) {
  __shared__ KvTile<D> tile;
  const int bh = blockIdx.y, row = blockIdx.x * kRows + threadIdx.x;
  const bool active = row < p.Tq;
  ForwardRow<D> r;
  if (active) forward_init<T, D>(p, bh, row, r);
  for (int k0 = 0; k0 < p.Tk; k0 += kTileRows<D>) {
    load_kv_tile<T, D>(p, bh, k0, threadIdx.x, tile);
    __syncthreads();
    if (active) forward_tile<D>(p, bh, row, k0, tile, r);
    __syncthreads();
  }
  if (active) forward_finish<T, D>(p, bh, row, r);
}

template <typename T>
cudaError_t launch(const Params& p, int D, cudaStream_t stream) {
  const dim3 grid((p.Tq + kRows - 1) / kRows, p.B * p.H);
  if (D == 64)
    flash_forward_kernel<T, 64><<<grid, kRows, 0, stream>>>(p);
  else if (D == 128)
    flash_forward_kernel<T, 128><<<grid, kRows, 0, stream>>>(p);
  else
    return cudaErrorInvalidValue;
  return cudaGetLastError();
}
}  // namespace

cudaError_t flash_attention_forward_cuda(const Params& p, CudaDType dtype, int D,
                                         cudaStream_t stream) {
  if (p.Tq <= 0 || p.Tk <= 0 || p.B * p.H > 65535) return cudaErrorInvalidValue;
  switch (dtype) {
    case CudaDType::F16:
      return launch<__half>(p, D, stream);
    case CudaDType::BF16:
      return launch<__nv_bfloat16>(p, D, stream);
    default:
      return launch<float>(p, D, stream);
  }
}

}  // namespace musefm::kernels
