// bench_encodec MODEL_DIR INPUT.npy CODES.npy [REPEATS [BANDWIDTH [CHUNK [EMB.npy]]]]: times
// EncodecTeacher::codes() on a [B, L] (or [L]) 24 kHz waveform at BANDWIDTH kbps (default 6)
// with CHUNK frames per encoder chunk (default EncodecTeacher::kDefaultChunkFrames; 0 = one
// pass), median of REPEATS after one warm-up (default 5; 0 = only the untimed call),
// writes the codes as float32 [B, n_q, T] to CODES.npy and, if given, the encoder output
// [B, dimension, T] to EMB.npy, and prints {"median_ms": ..., "frames": ..., ...} for
// benchmarks/compare_encodec.py and tools/check_encodec_full.py.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "musefm/codec.h"
#include "musefm/npy.h"
#include "musefm/runtime.h"

namespace {
void write_tensor(const std::string& path, const at::Tensor& t) {
  const at::Tensor f = t.to(at::kCPU, at::kFloat).contiguous();
  musefm::write_npy(path, f.data_ptr<float>(), f.sizes().vec());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: bench_encodec MODEL_DIR INPUT.npy CODES.npy [REPEATS [BANDWIDTH "
                 "[CHUNK [EMB.npy]]]]\n");
    return 2;
  }
  musefm::keep_freed_memory_for_reuse();  // as the musefm CLI does
  try {
    const auto t_load = std::chrono::steady_clock::now();
    const musefm::EncodecTeacher codec = musefm::EncodecTeacher::load(argv[1]);
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load)
            .count();
    musefm::NpyArray in = musefm::read_npy(argv[2]);
    const at::Tensor x = at::from_blob(in.data.data(), in.shape, at::kFloat);
    const int repeats = argc > 4 ? std::atoi(argv[4]) : 5;
    const double bandwidth = argc > 5 ? std::atof(argv[5]) : 6.0;
    const int64_t chunk =
        argc > 6 ? std::atoll(argv[6]) : musefm::EncodecTeacher::kDefaultChunkFrames;
    at::Tensor codes = codec.codes(x, bandwidth, chunk);
    std::vector<double> ms;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      codes = codec.codes(x, bandwidth, chunk);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    write_tensor(argv[3], codes);
    if (argc > 7) write_tensor(argv[7], codec.encode(x, chunk));
    std::printf(
        "{\"median_ms\": %.3f, \"load_ms\": %.3f, \"frames\": %lld, \"codebooks\": %lld, "
        "\"chunk_frames\": %lld, \"threads\": %d}\n",
        ms.empty() ? 0.0 : ms[ms.size() / 2], load_ms, (long long)codes.size(-1),
        (long long)codes.size(-2), (long long)chunk, at::get_num_threads());
  } catch (const musefm::Error& e) {
    std::fprintf(stderr, "bench_encodec: %s\n", e.what());
    return 1;
  }
  return 0;
}
