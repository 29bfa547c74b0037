// musefm extract: embeddings (hidden states of the chosen layers) of audio files: the options
// of musefm::EmbeddingFileWriter (musefm/extract_files.h) run over a batch of inputs.
// Window semantics (overlap, frame-exact stitching): include/musefm/extract.h.

#include <cstdio>

#include "cli/batch.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "core/strings.h"
#include "musefm/default_model.h"
#include "musefm/extract.h"
#include "musefm/extract_files.h"
#include "musefm/shards.h"

namespace musefm::cli {

namespace {
struct Options {
  std::vector<std::string> inputs;
  std::string model, out_dir = "embeddings", device = "cpu", format = "npy", layer_weights;
  ExtractConfig extract;
  int shard = -1, nshards = -1, loader_threads = EmbeddingFileWriter::kAutoLoaderThreads;
  bool overwrite = false, merge = false;
};

// --merge: checks the shards' outputs and writes <out-dir>/index.tsv.
void merge(const Options& o, const std::vector<FileInput>& inputs) {
  const ShardMerge m = merge_shards(inputs, o.out_dir, "." + o.format, o.nshards);
  std::printf("merge: %s\n", m.report().c_str());
  MUSEFM_CHECK(m.ok(), "merge: the shards in '", o.out_dir,
               "' are incomplete (listed above); rerun the shards named, then --merge again");
}

void run_extract(Options o) {
  const std::vector<FileInput> all = collect_inputs(o.inputs);
  if (o.merge) return merge(o, all);
  const ShardSpec shard = resolve_shard(o.shard, o.nshards);
  check_shard_dir(o.out_dir, shard, all);
  if (o.model.empty()) o.model = default_model_dir();  // throws: where it looked, how to rebuild
  if (!o.layer_weights.empty())
    o.extract.layer_weights = detail::parse_number_list(o.layer_weights, "--layer-weights");
  o.extract.validate();
  const std::vector<FileInput> inputs = shard_inputs(all, shard);
  if (shard.count > 1)
    std::printf("shard %d of %d (%s): %zu of %zu inputs\n", shard.index, shard.count,
                shard.source.c_str(), inputs.size(), all.size());
  const Extractor ex(Encoder::load(o.model, o.device), o.extract);
  const EmbeddingFileWriter writer(ex, o.model, o.format, o.loader_threads);
  const FileBatchSummary s = run_batch(
      inputs, o.out_dir, o.overwrite, "extract", "." + o.format, size_t(o.extract.batch),
      [&](std::vector<FileJob>& jobs) { writer.write(jobs); }, shard_failures_name(shard),
      [&](const std::vector<FileJob>& next) { writer.prefetch(next); });
  write_shard_marker(o.out_dir, shard, all, s);
  if (shard.count == 1 && s.failed == 0)
    std::printf("index: %s\n", merge_shards(all, o.out_dir, "." + o.format, 1).index_path.c_str());
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
                  "mean: average over time ([outputs, dims]); mean+std: mean then standard\n"
                  "deviation over time ([outputs, 2 x dims]); none: every frame\n"
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
                  "items give the same result as one by one. Files are grouped by length (from\n"
                  "their headers) so that a batch holds files of similar duration")
      ->capture_default_str();
  cmd->add_option("--loader-threads", o->loader_threads,
                  "Threads decoding and resampling the next batch's files while the model runs\n"
                  "(0 = in the model's thread). Default: 2 on CUDA; on the CPU one per core that\n"
                  "--threads leaves free, at most 2 (none when the model uses every core)")
      ->check(CLI::Range(0, 64));
  add_enum_option(cmd, "--precision", o->extract.precision,
                  "fp32; bf16: matrix products in bfloat16 with float32 accumulation, norms,\n"
                  "softmax and features in float32 (faster on CPUs with AVX-512 BF16 / AMX, and\n"
                  "on GPUs); fp16: likewise in float16, CUDA only; int8 (CPU): the transformer's\n"
                  "linear layers in int8 (dynamic activation quantisation), the rest as bf16.\n"
                  "Recorded in the sidecar");
  add_enum_option(cmd, "--resample", o->extract.resample,
                  "Resampler of files not at the model's rate: soxr-hq (libsoxr, librosa.load's\n"
                  "default) or libsamplerate's best, medium, fastest, zoh, linear (best is ~40x\n"
                  "slower than soxr-hq). Recorded in the sidecar");
  add_threads_option(cmd, " for the model");
  cmd->add_option("--format", o->format,
                  "npy, or safetensors (tensor \"embeddings\", sidecar JSON in the metadata)")
      ->check(CLI::IsMember({"npy", "safetensors"}))
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Recompute outputs that already exist");
  cmd->add_option("--shard", o->shard,
                  "This process's part of the inputs, 0..nshards-1 (default: RANK, or\n"
                  "SLURM_ARRAY_TASK_ID / SLURM_PROCID; else 0). Every shard gets the same inputs\n"
                  "and --out-dir and takes its own files: a fixed split balanced by duration");
  cmd->add_option("--nshards", o->nshards,
                  "Number of shards (default: WORLD_SIZE, or SLURM_ARRAY_TASK_COUNT x\n"
                  "SLURM_NTASKS; else 1)");
  cmd->add_flag("--merge", o->merge,
                "After the shards: check that every input has its output exactly once (lists\n"
                "missing and failed ones, exit status 1) and write <out-dir>/index.tsv (path,\n"
                "output, frames, duration_s, model_hash). A single-shard run writes it itself");
  cmd->callback([o] { run_extract(*o); });
}

}  // namespace musefm::cli
