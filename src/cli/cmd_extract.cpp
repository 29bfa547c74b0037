// musefm extract: embeddings (hidden states of the chosen layers) of audio files.
//
// Files longer than one window stream through an ExtractStream block by block: audio is
// decoded, resampled and encoded window by window, pooled on the fly or written straight into
// the output .npy, so memory stays bounded by the window whatever the file's length. Files
// that fit in one window are grouped --batch at a time into one padded forward pass.
// Window semantics (overlap, frame-exact stitching): include/musefm/extract.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/batch.h"
#include "cli/commands.h"
#include "cli/enum_option.h"
#include "io/atomic_file.h"
#include "io/npy_writer.h"
#include "musefm/audio.h"
#include "musefm/default_model.h"
#include "musefm/extract.h"
#include "musefm/features.h"
#include "musefm/npy.h"
#include "musefm/safetensors.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {
struct Options {
  std::vector<std::string> inputs;
  std::string model, out_dir = "embeddings", device = "cpu", format = "npy", layer_weights;
  ExtractConfig extract;
  int threads = 0;
  bool overwrite = false;
};

std::vector<double> parse_weights(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MUSEFM_CHECK(used == item.size() && !item.empty(), "--layer-weights: '", item,
                 "' is not a number");
    out.push_back(v);
  }
  return out;
}

class Job {
 public:
  Job(const Extractor& ex, const Options& o, const std::string& hash) : ex_(ex), o_(o) {
    const EncoderConfig& c = ex.encoder().config();
    base_ = {{"model",
              {{"dir", o.model}, {"hash", hash}, {"config", nlohmann::json::parse(c.to_json())}}},
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
    const bool mean = ex_.config().pool == Pool::Mean;
    at::Tensor sum = at::zeros({L, H}, at::kDouble);
    std::vector<at::Tensor> kept;  // safetensors without pooling
    std::unique_ptr<io_detail::NpyFileWriter> npy;
    if (!mean && o_.format == "npy")
      npy = std::make_unique<io_detail::NpyFileWriter>(out, std::vector<int64_t>{L, T, H});
    int64_t t = 0;
    const auto consume = [&](const at::Tensor& frames_any) {
      const at::Tensor frames = frames_any.to(at::kCPU).contiguous();
      const int64_t n = frames.size(1);
      MUSEFM_CHECK(t + n <= T, "'", in, "': decoded more audio than its header announced");
      if (mean) {
        sum += frames.to(at::kDouble).sum(1);
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
    at::Tensor result = mean ? (sum / double(T)).to(at::kFloat) : at::Tensor();
    if (!mean && !npy) result = at::cat(kept, 1);
    finish(in, out, result, T, npy.get());
  }

  // Files that fit in one window: decoded whole and encoded together.
  void batched(std::vector<cli::Job>& jobs) const {
    std::vector<at::Tensor> waves;
    std::vector<cli::Job*> ok;
    for (auto& j : jobs) {
      try {
        const at::Tensor w = waveform_tensor(load_audio(j.input, audio_options()));
        MUSEFM_CHECK(ex_.encoder().num_frames(w.size(0)) >= 1, "'", j.input, "': ", w.size(0),
                     " samples are too short for one frame of the model");
        waves.push_back(w);
        ok.push_back(&j);
      } catch (const Error& e) {
        j.error = e.what();
      }
    }
    if (waves.empty()) return;
    const std::vector<at::Tensor> results = ex_.extract(waves);
    for (size_t i = 0; i < ok.size(); ++i) {
      try {
        finish(ok[i]->input, ok[i]->output, results[i].to(at::kCPU).contiguous(),
               ex_.encoder().num_frames(waves[i].size(0)), nullptr);
      } catch (const Error& e) {
        ok[i]->error = e.what();
      }
    }
  }

 private:
  void finish(const std::string& in, const std::string& out, const at::Tensor& emb, int64_t frames,
              io_detail::NpyFileWriter* npy) const {
    const AudioInfo info = probe_audio(in);
    nlohmann::json side = base_;
    side["frames"] = frames;
    side["shape"] = npy ? npy->shape() : emb.sizes().vec();
    side["layout"] = ex_.config().pool == Pool::Mean ? "outputs x dims" : "outputs x frames x dims";
    side["audio"] = {{"path", in},
                     {"duration_s", info.duration_s()},
                     {"sample_rate", info.sample_rate},
                     {"channels", info.channels}};
    const std::string text = side.dump(2) + "\n";
    io_detail::AtomicFile sidecar(sidecar_path(out));
    sidecar.write(text.data(), text.size());
    if (npy) {
      npy->commit();
    } else if (o_.format == "npy") {
      write_npy(out, emb.data_ptr<float>(), emb.sizes().vec());
    } else {  // one tensor "embeddings" + the sidecar JSON as metadata
      save_safetensors(out, {{"embeddings", emb}}, {{"musefm", side.dump()}});
    }
    sidecar.commit();
  }

  const Extractor& ex_;
  const Options& o_;
  nlohmann::json base_;
};

void run_extract(Options o) {
  if (o.model.empty()) o.model = default_model_dir();  // throws: where it looked, how to rebuild
  if (!o.layer_weights.empty()) o.extract.layer_weights = parse_weights(o.layer_weights);
  o.extract.validate();
  MUSEFM_CHECK(o.threads >= 0, "--threads must be >= 0 (0 = all cores), got ", o.threads);
  if (o.threads > 0) at::set_num_threads(o.threads);
  const std::vector<Input> inputs = collect_inputs(o.inputs);
  const Extractor ex(Encoder::load(o.model, o.device), o.extract);
  const std::string hash = file_checksum((fs::path(o.model) / "model.safetensors").string());
  const Job job(ex, o, hash);
  run_batch(inputs, o.out_dir, o.overwrite, "extract", "." + o.format, size_t(o.extract.batch),
            [&](std::vector<cli::Job>& jobs) {
              std::vector<cli::Job> short_ones;
              for (auto& j : jobs) {
                try {
                  if (job.fits_one_window(j.input)) {
                    short_ones.push_back(j);
                  } else {
                    job.stream(j.input, j.output);
                  }
                } catch (const Error& e) {
                  j.error = e.what();
                }
              }
              job.batched(short_ones);
              for (const auto& s : short_ones)
                for (auto& j : jobs)
                  if (j.input == s.input) j.error = s.error;
            });
}
}  // namespace

void add_extract_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "extract", "Embeddings (hidden states of the chosen layers) of audio files, any length");
  auto o = std::make_shared<Options>();
  cmd->add_option("inputs", o->inputs,
                  "Audio files, directories (searched recursively) or fairseq manifests (.tsv)");
  cmd->add_option("--model,-m", o->model,
                  "Model directory (config.json + model.safetensors); default: the shipped\n"
                  "model musefm-small (models/musefm-small, see its MODEL_CARD.md)");
  cmd->add_option("--out-dir,-o", o->out_dir,
                  "Output folder: <name>.npy (or .safetensors) + <name>.json per input, keeping\n"
                  "the folder structure of directory and manifest inputs; finished files are\n"
                  "skipped, failures are listed in failures.jsonl and give exit status 1")
      ->capture_default_str();
  cmd->add_option("--layers", o->extract.layers,
                  "all; hidden-state indices such as 0,6,12 (-1 = last); or weighted: one\n"
                  "output, the weighted sum of all hidden states (see --layer-weights)")
      ->capture_default_str();
  cmd->add_option("--layer-weights", o->layer_weights,
                  "With --layers weighted: one weight per hidden state, e.g. from a probe\n"
                  "(normalised to sum 1); default uniform");
  add_enum_option(cmd, "--pool", o->extract.pool,
                  "mean: average over time ([outputs, dims]); none: every frame\n"
                  "([outputs, frames, dims], streamed to disk for long files)");
  cmd->add_option("--window", o->extract.window_s,
                  "Seconds per forward pass; bounds memory for any file length (0 = whole file)")
      ->capture_default_str();
  cmd->add_option("--hop", o->extract.hop_s,
                  "Seconds between window starts (0 = window: the minimal overlap). Overlapping\n"
                  "windows are stitched at the middle of each overlap on the model's frame grid,\n"
                  "so every frame sees at least half the overlap as context")
      ->capture_default_str();
  cmd->add_option("--batch", o->extract.batch,
                  "Windows (of one long file, or short files together) per forward pass; padded\n"
                  "items give the same result as one by one")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads for the model (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--format", o->format,
                  "npy, or safetensors (tensor \"embeddings\", sidecar JSON in the metadata)")
      ->check(CLI::IsMember({"npy", "safetensors"}))
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Recompute outputs that already exist");
  cmd->callback([o] { run_extract(*o); });
}

}  // namespace musefm::cli
