// Internal, host only: runs the CUDA flash-attention kernels' block/thread loops on the CPU
// with the very same tile routines (flash_tile.h), in the order the GPU's phases impose
// (every thread's load, then every thread's compute). Used by tests/test_cuda_tiles.cpp to
// check the kernels' logic on machines without a GPU. Slow by design.
#pragma once

#include <memory>
#include <vector>

#include "cuda/flash_tile.h"

namespace musefm::kernels::cuda_tile {

template <typename T, int D>
void emulate_forward(const Params& p) {
  auto tile = std::make_unique<KvTile<D>>();
  std::vector<ForwardRow<D>> rows(kRows);
  for (int bh = 0; bh < p.B * p.H; ++bh)
    for (int q0 = 0; q0 < p.Tq; q0 += kRows) {  // one block
      for (int t = 0; t < kRows; ++t)
        if (q0 + t < p.Tq) forward_init<T, D>(p, bh, q0 + t, rows[size_t(t)]);
      for (int k0 = 0; k0 < p.Tk; k0 += kTileRows<D>) {
        for (int t = 0; t < kRows; ++t) load_kv_tile<T, D>(p, bh, k0, t, *tile);
        for (int t = 0; t < kRows; ++t)
          if (q0 + t < p.Tq) forward_tile<D>(p, bh, q0 + t, k0, *tile, rows[size_t(t)]);
      }
      for (int t = 0; t < kRows; ++t)
        if (q0 + t < p.Tq) forward_finish<T, D>(p, bh, q0 + t, rows[size_t(t)]);
    }
}

template <typename T, int D>
void emulate_backward(const Params& p) {
  for (int bh = 0; bh < p.B * p.H; ++bh)
    for (int row = 0; row < p.Tq; ++row) delta_row<T, D>(p, bh, row);
  auto qtile = std::make_unique<QTile<D>>();
  std::vector<KeyRow<D>> keys(kRows);
  for (int bh = 0; bh < p.B * p.H; ++bh)
    for (int k0 = 0; k0 < p.Tk; k0 += kRows) {
      for (int t = 0; t < kRows; ++t)
        if (k0 + t < p.Tk) key_init<T, D>(p, bh, k0 + t, keys[size_t(t)]);
      for (int q0 = 0; q0 < p.Tq; q0 += kTileRows<D>) {
        for (int t = 0; t < kRows; ++t) load_q_tile<T, D>(p, bh, q0, t, *qtile);
        for (int t = 0; t < kRows; ++t)
          if (k0 + t < p.Tk) key_tile<D>(p, bh, k0 + t, q0, *qtile, keys[size_t(t)]);
      }
      for (int t = 0; t < kRows; ++t)
        if (k0 + t < p.Tk) key_finish<T, D>(p, bh, k0 + t, keys[size_t(t)]);
    }
  auto kvtile = std::make_unique<KvTile<D>>();
  std::vector<QueryRow<D>> queries(kRows);
  for (int bh = 0; bh < p.B * p.H; ++bh)
    for (int q0 = 0; q0 < p.Tq; q0 += kRows) {
      for (int t = 0; t < kRows; ++t)
        if (q0 + t < p.Tq) query_init<T, D>(p, bh, q0 + t, queries[size_t(t)]);
      for (int k0 = 0; k0 < p.Tk; k0 += kTileRows<D>) {
        for (int t = 0; t < kRows; ++t) load_kv_tile<T, D>(p, bh, k0, t, *kvtile);
        for (int t = 0; t < kRows; ++t)
          if (q0 + t < p.Tq) query_tile<D>(p, bh, q0 + t, k0, *kvtile, queries[size_t(t)]);
      }
      for (int t = 0; t < kRows; ++t)
        if (q0 + t < p.Tq) query_finish<T, D>(p, bh, q0 + t, queries[size_t(t)]);
    }
}

}  // namespace musefm::kernels::cuda_tile
