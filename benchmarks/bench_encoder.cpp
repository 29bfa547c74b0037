// bench_encoder MODEL_DIR INPUT.npy OUT.npy [REPEATS [ATTENTION]]: times Encoder::forward on a
// [B, L] waveform (median of REPEATS after one warm-up), writes the last hidden state to OUT.npy
// and prints {"median_ms": ..., "frames": ...} for benchmarks/compare_extract.py. ATTENTION
// (fused, sdpa, naive) overrides the model config's attention implementation.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "musefm/encoder.h"
#include "musefm/npy.h"
#include "musefm/runtime.h"
#include "musefm/safetensors.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_encoder MODEL_DIR INPUT.npy OUT.npy [REPEATS]\n");
    return 2;
  }
  musefm::keep_freed_memory_for_reuse();  // as the musefm CLI does
  try {
    musefm::Encoder enc = musefm::Encoder::load(argv[1]);
    if (argc > 5) {
      musefm::EncoderConfig c = enc.config();
      c.attention = musefm::parse_enum<musefm::AttentionImpl>(argv[5], "attention");
      const auto file = musefm::SafeTensorsFile::open(std::string(argv[1]) + "/model.safetensors");
      std::map<std::string, at::Tensor> w;
      for (const auto& t : file.tensors()) w[t.name] = file.get(t.name);
      enc = musefm::Encoder::from_weights(c, w);
    }
    musefm::NpyArray in = musefm::read_npy(argv[2]);
    const at::Tensor x = at::from_blob(in.data.data(), in.shape, at::kFloat);
    const int repeats = argc > 4 ? std::atoi(argv[4]) : 5;
    at::Tensor last = enc.forward(x).back();
    std::vector<double> ms;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      last = enc.forward(x).back();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    last = last.contiguous();
    musefm::write_npy(argv[3], last.data_ptr<float>(), last.sizes().vec());
    std::printf("{\"median_ms\": %.3f, \"frames\": %lld, \"threads\": %d}\n", ms[ms.size() / 2],
                (long long)last.size(1), at::get_num_threads());
  } catch (const musefm::Error& e) {
    std::fprintf(stderr, "bench_encoder: %s\n", e.what());
    return 1;
  }
  return 0;
}
