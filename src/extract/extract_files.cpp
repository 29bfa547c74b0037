// EmbeddingFileWriter (musefm/extract_files.h): embeddings of audio files as .npy or
// .safetensors with a JSON sidecar, as `musefm extract` writes them.
//
// Files longer than one window stream through an ExtractStream block by block: audio is
// decoded, resampled and encoded window by window, pooled on the fly or written straight into
// the output .npy, so memory stays bounded by the window whatever the file's length. Files
// that fit in one window are grouped into one padded forward pass.
#include "musefm/extract_files.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "audio/audio_json.h"
#include "core/task_pool.h"
#include "io/atomic_file.h"
#include "io/npy_writer.h"
#include "musefm/audio.h"
#include "musefm/default_model.h"
#include "musefm/feature_runner.h"
#include "musefm/npy.h"
#include "musefm/safetensors.h"

namespace musefm {

struct EmbeddingFileWriter::Impl {
  Impl(const Extractor& ex, const std::string& model_dir, const std::string& hash,
       const std::string& format, int loader_threads)
      : ex_(ex),
        format_(format),
        loader_threads_(loader_threads),
        pool_(std::make_unique<core_detail::TaskPool>(loader_threads)) {
    const EncoderConfig& c = ex.encoder().config();
    base_ = {{"model",
              {{"dir", model_dir}, {"hash", hash}, {"config", nlohmann::json::parse(c.to_json())}}},
             {"extract", nlohmann::json::parse(ex.config().to_json())},
             {"layers", ex.config().layers == "weighted" ? nlohmann::json("weighted")
                                                         : nlohmann::json(ex.layers())},
             {"frame_rate", c.frame_rate()},
             {"window_samples", ex.window_samples()},
             {"hop_samples", ex.hop_samples()},
             {"musefm_version", MUSEFM_VERSION}};
  }

  AudioLoadOptions audio_options() const {
    AudioLoadOptions opt;
    opt.target_rate = ex_.encoder().config().sample_rate;
    opt.quality = ex_.config().resample;
    return opt;
  }

  bool fits_one_window(const std::string& in) const {
    const AudioInfo info = probe_audio(in);
    // The last window may be an eighth longer than --window (extract.h).
    return ex_.window_samples() == 0 || info.duration_s() * ex_.encoder().config().sample_rate <=
                                            double(ex_.window_samples() * 9 / 8);
  }

  // A long file, block by block through an ExtractStream.
  void stream(const std::string& in, const std::string& out) const {
    const EncoderConfig& c = ex_.encoder().config();
    const int64_t block =
        std::max<int64_t>(int64_t(c.sample_rate) * 10, ex_.hop_samples() * ex_.config().batch);
    AudioStream audio(in, audio_options(), block);
    const int64_t total = audio.expected_frames(), T = ex_.encoder().num_frames(total);
    MUSEFM_CHECK(T >= 1, "'", in, "': ", total,
                 " samples are too short for one frame of the model");
    const int64_t L = ex_.num_outputs(), H = c.hidden_size;
    const Pool pool = ex_.config().pool;
    const bool mean = pool != Pool::None;  // pooled on the fly: sums of x (and x^2)
    at::Tensor sum = at::zeros({L, H}, at::kDouble), sum_sq = at::zeros({L, H}, at::kDouble);
    std::vector<at::Tensor> kept;  // safetensors without pooling
    std::unique_ptr<io_detail::NpyFileWriter> npy;
    if (!mean && format_ == "npy")
      npy = std::make_unique<io_detail::NpyFileWriter>(out, std::vector<int64_t>{L, T, H});
    int64_t t = 0;
    const auto consume = [&](const at::Tensor& frames_any) {
      const at::Tensor frames = frames_any.to(at::kCPU).contiguous();
      const int64_t n = frames.size(1);
      MUSEFM_CHECK(t + n <= T, "'", in, "': decoded more audio than its header announced");
      if (mean) {
        const at::Tensor x = frames.to(at::kDouble);
        sum += x.sum(1);
        if (pool == Pool::MeanStd) sum_sq += (x * x).sum(1);
      } else if (npy) {
        for (int64_t l = 0; l < L; ++l)
          npy->write((l * T + t) * H, frames[l].data_ptr<float>(), n * H);
      } else {
        kept.push_back(frames);
      }
      t += n;
    };
    ExtractStream s = ex_.create_stream();
    std::vector<float> samples;
    while (audio.read(samples)) {
      s.accept_waveform(samples.data(), samples.size());
      consume(s.compute());
    }
    consume(s.flush());
    MUSEFM_CHECK(t == T, "'", in, "': decoded ", s.samples_accepted(),
                 " samples, the header announced ", total);
    at::Tensor result;
    if (mean) {
      const at::Tensor m = sum / double(T);
      result = pool == Pool::Mean
                   ? m
                   : at::cat({m, (sum_sq / double(T) - m * m).clamp_min(0).sqrt()}, 1);
      result = result.to(at::kFloat);
    }
    if (!mean && !npy) result = at::cat(kept, 1);
    finish(in, out, result, T, npy.get());
  }

  // The whole waveform of a file that fits one window; an undefined tensor for a longer one.
  at::Tensor load_short(const std::string& in) const {
    if (!fits_one_window(in)) return {};
    const at::Tensor w = waveform_tensor(load_audio(in, audio_options()));
    MUSEFM_CHECK(ex_.encoder().num_frames(w.size(0)) >= 1, "'", in, "': ", w.size(0),
                 " samples are too short for one frame of the model");
    return w;
  }

  // load_short(), from the loader threads when prefetch() asked for it.
  at::Tensor take(const std::string& in) const {
    std::shared_future<at::Tensor> f;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto it = ahead_.find(in);
      if (it == ahead_.end()) return load_short(in);
      f = it->second;
      ahead_.erase(it);
    }
    return f.get();  // rethrows the loader's error
  }

  void prefetch(const std::vector<FileJob>& jobs) const {
    if (loader_threads_ == 0) return;  // take() decodes in the model's thread
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& j : jobs)
      if (!ahead_.count(j.input))
        ahead_.emplace(j.input, pool_->submit([this, in = j.input] { return load_short(in); }));
  }

  // Files that fit in one window: decoded whole and encoded together.
  void batched(std::vector<FileJob>& jobs, std::vector<at::Tensor>& waves) const {
    if (waves.empty()) return;
    const std::vector<at::Tensor> results = ex_.extract(waves);
    for (size_t i = 0; i < jobs.size(); ++i) {
      try {
        finish(jobs[i].input, jobs[i].output, results[i].to(at::kCPU).contiguous(),
               ex_.encoder().num_frames(waves[i].size(0)), nullptr);
      } catch (const Error& e) {
        jobs[i].error = e.what();
      }
    }
  }

  void finish(const std::string& in, const std::string& out, const at::Tensor& emb, int64_t frames,
              io_detail::NpyFileWriter* npy) const {
    const AudioInfo info = probe_audio(in);
    nlohmann::json side = base_;
    side["frames"] = frames;
    side["shape"] = npy ? npy->shape() : emb.sizes().vec();
    side["layout"] = ex_.config().pool == Pool::None   ? "outputs x frames x dims"
                     : ex_.config().pool == Pool::Mean ? "outputs x dims"
                                                       : "outputs x (mean, std) dims";
    side["audio"] = audio_detail::audio_json(in, info);
    const std::string text = side.dump(2) + "\n";
    io_detail::AtomicFile sidecar(sidecar_path(out));
    sidecar.write(text.data(), text.size());
    if (npy) {
      npy->commit();
    } else if (format_ == "npy") {
      write_npy(out, emb.data_ptr<float>(), emb.sizes().vec());
    } else {  // one tensor "embeddings" + the sidecar JSON as metadata
      save_safetensors(out, {{"embeddings", emb}}, {{"musefm", side.dump()}});
    }
    sidecar.commit();
  }

  const Extractor& ex_;
  std::string format_;
  nlohmann::json base_;
  int loader_threads_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_future<at::Tensor>> ahead_;  // prefetched inputs
  std::unique_ptr<core_detail::TaskPool> pool_;  // last: stops before what its tasks read
};

EmbeddingFileWriter::EmbeddingFileWriter(const Extractor& ex, const std::string& model_dir,
                                         const std::string& format, int loader_threads) {
  MUSEFM_CHECK(loader_threads >= kAutoLoaderThreads && loader_threads <= 64,
               "extract: loader threads ", loader_threads, " is not in [0, 64] (or -1 = auto)");
  if (loader_threads == kAutoLoaderThreads) {
    const int cores = int(std::thread::hardware_concurrency());
    loader_threads =
        ex.encoder().device() != "cpu" ? 2 : std::clamp(cores - at::get_num_threads(), 0, 2);
  }
  MUSEFM_CHECK(format == "npy" || format == "safetensors", "extract: format '", format,
               "' is not npy or safetensors");
  const std::string hash =
      file_checksum((std::filesystem::path(model_dir) / "model.safetensors").string());
  impl_ = std::make_shared<const Impl>(ex, model_dir, hash, format, loader_threads);
}

void EmbeddingFileWriter::prefetch(const std::vector<FileJob>& jobs) const {
  impl_->prefetch(jobs);
}

void EmbeddingFileWriter::write(std::vector<FileJob>& jobs) const {
  std::vector<FileJob> short_ones;
  std::vector<at::Tensor> waves;
  for (auto& j : jobs) {
    try {
      at::Tensor w = impl_->take(j.input);
      if (w.defined()) {
        short_ones.push_back(j);
        waves.push_back(std::move(w));
      } else {
        impl_->stream(j.input, j.output);
      }
    } catch (const Error& e) {
      j.error = e.what();
    }
  }
  impl_->batched(short_ones, waves);
  for (const auto& s : short_ones)
    for (auto& j : jobs)
      if (j.input == s.input) j.error = s.error;
}

}  // namespace musefm
