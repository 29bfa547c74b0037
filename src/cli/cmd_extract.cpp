// musefm extract: hidden states of a MERT-family model for audio files, per layer, to .npy.
//
// Long audio is cut into consecutive windows of --window seconds (default 30) that are
// encoded independently and whose frames are concatenated: memory is bounded by the window.
// Each window is its own forward pass (MERT's layer-0 GroupNorm statistics and attention span
// one window), so the result equals a full pass only when the file fits in one window.
#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/batch.h"
#include "cli/commands.h"
#include "io/atomic_file.h"
#include "musefm/audio.h"
#include "musefm/encoder.h"
#include "musefm/features.h"
#include "musefm/npy.h"
#include "musefm/safetensors.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {
struct Options {
  std::vector<std::string> inputs;
  std::string model, out_dir = "embeddings", layers = "all", pool = "mean", device = "cpu",
                     format = "npy";
  double window_s = 30.0;
  bool overwrite = false;
};

// FNV-1a 64 of the weights file: identifies the model in every sidecar.
std::string model_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot read '", path, "'");
  uint64_t h = 1469598103934665603ull;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= uint64_t(static_cast<unsigned char>(buf[size_t(i)]));
      h *= 1099511628211ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + text;
}

// "all" or a comma-separated list of hidden-state indices (negative counts from the end).
std::vector<int64_t> parse_layers(const std::string& spec, int64_t count) {
  std::vector<int64_t> out;
  if (spec == "all") {
    for (int64_t i = 0; i < count; ++i) out.push_back(i);
    return out;
  }
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t v = 0;
    try {
      size_t used = 0;
      v = std::stoll(item, &used);
      MUSEFM_CHECK(used == item.size(), "");
    } catch (const std::exception&) {
      MUSEFM_FAIL("--layers: '", item, "' is not an integer (expected all or e.g. 0,6,12)");
    }
    if (v < 0) v += count;
    MUSEFM_CHECK(v >= 0 && v < count, "--layers: ", item, " is out of range: the model has ", count,
                 " hidden states (0..", count - 1, ")");
    out.push_back(v);
  }
  MUSEFM_CHECK(!out.empty(), "--layers is empty");
  return out;
}

void extract_one(const Encoder& enc, const Options& o, const std::vector<int64_t>& layers,
                 const std::string& hash, const std::string& in, const std::string& out) {
  const EncoderConfig& c = enc.config();
  const AudioInfo info = probe_audio(in);
  AudioLoadOptions opt;
  opt.target_rate = c.sample_rate;
  const Audio audio = load_audio(in, opt);
  const at::Tensor wav = waveform_tensor(audio).to(at::Device(o.device));
  const int64_t window = o.window_s > 0 ? int64_t(o.window_s * c.sample_rate) : wav.size(0);
  std::vector<at::Tensor> pieces;  // [n_layers, T_i, H] per window
  for (int64_t start = 0; start < wav.size(0); start += window) {
    int64_t len = std::min(window, wav.size(0) - start);
    if (enc.num_frames(len) == 0) {
      MUSEFM_CHECK(!pieces.empty(), "'", in, "': ", wav.size(0),
                   " samples are too short for one frame of the model");
      break;  // a tail shorter than one frame adds nothing
    }
    const std::vector<at::Tensor> hs = enc.forward(wav.narrow(0, start, len).unsqueeze(0));
    std::vector<at::Tensor> chosen;
    for (int64_t l : layers) chosen.push_back(hs[size_t(l)][0]);
    pieces.push_back(at::stack(chosen));
  }
  at::Tensor emb = at::cat(pieces, 1);  // [n_layers, T, H]
  const int64_t frames = emb.size(1);
  if (o.pool == "mean") emb = emb.mean(1);
  emb = emb.to(at::kCPU).contiguous();
  nlohmann::json side{
      {"model", {{"dir", o.model}, {"hash", hash}, {"config", nlohmann::json::parse(c.to_json())}}},
      {"layers", layers},
      {"pool", o.pool},
      {"window_s", o.window_s},
      {"frame_rate", c.frame_rate()},
      {"frames", frames},
      {"shape", emb.sizes().vec()},
      {"layout", o.pool == "mean" ? "layers x dims" : "layers x frames x dims"},
      {"audio",
       {{"path", in},
        {"duration_s", info.duration_s()},
        {"sample_rate", info.sample_rate},
        {"channels", info.channels}}},
      {"musefm_version", MUSEFM_VERSION}};
  const std::string text = side.dump(2) + "\n";
  io_detail::AtomicFile sidecar(sidecar_path(out));
  sidecar.write(text.data(), text.size());
  if (o.format == "npy") {
    write_npy(out, emb.data_ptr<float>(), emb.sizes().vec());
  } else {  // one tensor "embeddings" + the sidecar JSON as metadata
    save_safetensors(out, {{"embeddings", emb}}, {{"musefm", side.dump()}});
  }
  sidecar.commit();
}

void run_extract(const Options& o) {
  MUSEFM_CHECK(!o.model.empty(), "--model DIR is required (a musefm model directory)");
  MUSEFM_CHECK(o.window_s >= 0, "--window must be >= 0 seconds (0 = whole file), got ", o.window_s);
  const std::vector<std::string> inputs = collect_inputs(o.inputs);
  const Encoder enc = Encoder::load(o.model, o.device);
  const std::vector<int64_t> layers = parse_layers(o.layers, enc.config().num_hidden_states());
  const std::string hash = model_hash((fs::path(o.model) / "model.safetensors").string());
  run_batch(inputs, o.out_dir, o.overwrite, "extract", "." + o.format,
            [&](const std::string& in, const std::string& out) {
              extract_one(enc, o, layers, hash, in, out);
            });
}
}  // namespace

void add_extract_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "extract", "Embeddings (hidden states of every chosen layer) of audio files to .npy");
  auto o = std::make_shared<Options>();
  cmd->add_option("inputs", o->inputs, "Audio files or directories (searched recursively)");
  cmd->add_option("--model,-m", o->model, "Model directory (config.json + model.safetensors)")
      ->required();
  cmd->add_option("--out-dir,-o", o->out_dir,
                  "Output folder: <stem>.npy (or .safetensors) + <stem>.json per input; finished "
                  "files are skipped,\n"
                  "failures are listed in failures.jsonl and give exit status 1")
      ->capture_default_str();
  cmd->add_option("--layers", o->layers, "all, or hidden-state indices such as 0,6,12 (-1 = last)")
      ->capture_default_str();
  cmd->add_option("--pool", o->pool, "mean: average over time ([layers, dims]); none: keep frames")
      ->check(CLI::IsMember({"mean", "none"}))
      ->capture_default_str();
  cmd->add_option("--window", o->window_s,
                  "Seconds per independent forward pass (bounds memory; 0 = whole file).\n"
                  "Frames of consecutive windows are concatenated; equal to a full pass only\n"
                  "when the file fits in one window")
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
