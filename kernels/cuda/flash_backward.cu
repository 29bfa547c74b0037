// CUDA flash-attention backward: delta = rowsum(dO * O); dK/dV with one thread per key row over
// query tiles in shared memory; dQ with one thread per query row over key tiles. No atomics:
// every gradient row is owned by one thread (flash_tile.h).
#include "cuda/flash_attention_cuda.h"

namespace musefm::kernels {
namespace {
using namespace cuda_tile;

template <typename T, int D>
__global__ void flash_delta_kernel(Params p) {
  const int bh = blockIdx.y, row = blockIdx.x * blockDim.x + threadIdx.x;
  if (row < p.Tq) delta_row<T, D>(p, bh, row);
}

template <typename T, int D>
__global__ void __launch_bounds__(kRows) flash_dkdv_kernel(Params p) {
  __shared__ QTile<D> tile;
  const int bh = blockIdx.y, key = blockIdx.x * kRows + threadIdx.x;
  const bool active = key < p.Tk;
  KeyRow<D> r;
  if (active) key_init<T, D>(p, bh, key, r);
  for (int q0 = 0; q0 < p.Tq; q0 += kTileRows<D>) {
    load_q_tile<T, D>(p, bh, q0, threadIdx.x, tile);
    __syncthreads();
    if (active) key_tile<D>(p, bh, key, q0, tile, r);
    __syncthreads();
  }
  if (active) key_finish<T, D>(p, bh, key, r);
}

template <typename T, int D>
__global__ void __launch_bounds__(kRows) flash_dq_kernel(Params p) {
  __shared__ KvTile<D> tile;
  const int bh = blockIdx.y, row = blockIdx.x * kRows + threadIdx.x;
  const bool active = row < p.Tq;
  QueryRow<D> r;
  if (active) query_init<T, D>(p, bh, row, r);
  for (int k0 = 0; k0 < p.Tk; k0 += kTileRows<D>) {
    load_kv_tile<T, D>(p, bh, k0, threadIdx.x, tile);
    __syncthreads();
    if (active) query_tile<D>(p, bh, row, k0, tile, r);
    __syncthreads();
  }
  if (active) query_finish<T, D>(p, bh, row, r);
}

template <typename T, int D>
cudaError_t launch_d(const Params& p, cudaStream_t stream) {
  const int bh = p.B * p.H;
  flash_delta_kernel<T, D><<<dim3((p.Tq + 127) / 128, bh), 128, 0, stream>>>(p);
  flash_dkdv_kernel<T, D><<<dim3((p.Tk + kRows - 1) / kRows, bh), kRows, 0, stream>>>(p);
  flash_dq_kernel<T, D><<<dim3((p.Tq + kRows - 1) / kRows, bh), kRows, 0, stream>>>(p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch(const Params& p, int D, cudaStream_t stream) {
  if (D == 64) return launch_d<T, 64>(p, stream);
  if (D == 128) return launch_d<T, 128>(p, stream);
  return cudaErrorInvalidValue;
}
}  // namespace

cudaError_t flash_attention_backward_cuda(const Params& p, CudaDType dtype, int D,
                                          cudaStream_t stream) {
  if (p.Tq <= 0 || p.Tk <= 0 || p.B * p.H > 65535 || !p.delta) return cudaErrorInvalidValue;
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
