// bench_extract MODEL_DIR INPUT.npy REPEATS [LAYERS [POOL [PRECISION]]]: times Extractor::extract
// on a 1-D waveform (default ExtractConfig: 30 s windows, every layer, mean over time) after one
// warm-up and prints {"ms": [each call], "shape": [...], "threads": N}. The C++ side of
// benchmarks/python_overhead.py, which makes the same calls through the Python module.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "musefm/extract.h"
#include "musefm/npy.h"
#include "musefm/runtime.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: bench_extract MODEL_DIR INPUT.npy REPEATS [LAYERS [POOL [PRECISION]]]\n");
    return 2;
  }
  musefm::keep_freed_memory_for_reuse();  // as the musefm CLI does
  try {
    musefm::ExtractConfig c;
    if (argc > 4) c.layers = argv[4];
    if (argc > 5) c.pool = musefm::parse_enum<musefm::Pool>(argv[5], "pool");
    if (argc > 6) c.precision = musefm::parse_enum<musefm::Precision>(argv[6], "precision");
    const musefm::Extractor ex(musefm::Encoder::load(argv[1]), c);
    musefm::NpyArray in = musefm::read_npy(argv[2]);
    const at::Tensor x = at::from_blob(in.data.data(), in.shape, at::kFloat);
    at::Tensor y = ex.extract(x);  // warm-up
    std::string ms;
    for (int i = 0; i < std::atoi(argv[3]); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      y = ex.extract(x);
      const double t =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ms += (ms.empty() ? "" : ", ") + std::to_string(t);
    }
    std::string shape;
    for (int64_t s : y.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(s);
    std::printf("{\"ms\": [%s], \"shape\": [%s], \"threads\": %d}\n", ms.c_str(), shape.c_str(),
                at::get_num_threads());
  } catch (const musefm::Error& e) {
    std::fprintf(stderr, "bench_extract: %s\n", e.what());
    return 1;
  }
  return 0;
}
