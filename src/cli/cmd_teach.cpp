// musefm teach: fairseq-style label sets from a manifest with one of the teachers (k-means on
// MFCC or on an encoder layer, BEST-RQ, EnCodec RVQ), sharded, resumable and verified: the
// options of musefm::label_manifest() (musefm/teachers.h) and its progress bars.

#include <cstdio>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "musefm/teachers.h"

namespace musefm::cli {

namespace {

struct TeachOptions {
  LabelOptions label;
  bool verify = false, merge = false;
};

// Prints each file's check; false if any failed.
bool print_checks(const LabelVerification& v) {
  std::fputs(v.report().c_str(), stdout);
  return v.ok();
}

void run(const TeachOptions& o) {
  const ProgressCallbacks progress = progress_callbacks("musefm teach: ", "musefm teach: ");
  bool ok = true;
  if (o.verify) {
    ok = print_checks(verify_label_set(o.label));
  } else if (o.merge) {
    ok = print_checks(merge_label_shards(o.label, progress));
  } else {
    const LabelResult r = label_manifest(o.label, progress);
    ok = print_checks(r.verification) && r.failed == 0;
  }
  if (!ok) exit_code() = 1;
}

}  // namespace

void add_teach_command(CLI::App& app) {
  auto opts = std::make_shared<TeachOptions>();
  LabelOptions* o = &opts->label;
  TeacherConfig* t = &o->teacher;
  auto* cmd = app.add_subcommand(
      "teach",
      "Label a fairseq manifest with a teacher, for masked-prediction pretraining.\n"
      "Writes <out>/<split>.<label> (one line of space-separated ids per manifest entry) and\n"
      "<out>/dict.<label>.txt, then verifies them against the manifest. Teachers:\n"
      "  kmeans-mfcc   k-means (K=100) on 39-dim Kaldi MFCC (+deltas), 100 Hz   -> km\n"
      "  kmeans-chroma k-means (K=64) on 12-dim CQT pitch-class profiles, 100 Hz -> chroma\n"
      "  kmeans-layer  k-means (K=500) on hidden state --layer of --model      -> km\n"
      "  bestrq        MusicFM's random-projection quantizer of --model, 25 Hz -> bestrq_0\n"
      "  encodec       EnCodec 24 kHz RVQ codes of --codec at --bandwidth, 75 Hz\n"
      "                                                        -> encodec_0..N-1\n"
      "k-means teachers first fit on --percent of the entries (kmeans.safetensors in --out;\n"
      "reused on reruns) unless --kmeans FILE is given. Under torchrun/srun every rank fits\n"
      "together (c10d gloo) and labels its own shard. Interrupted runs resume; per-entry\n"
      "failures go to failures.jsonl. Examples:\n"
      "  musefm teach --manifest train.tsv --teacher kmeans-mfcc --out labels/\n"
      "  musefm teach --manifest train.tsv --teacher encodec --codec encodec24k/ --out labels/\n"
      "  musefm teach --manifest train.tsv --teacher encodec --out labels/ --verify");
  cmd->add_option("--manifest", o->manifest,
                  "fairseq manifest (.tsv: root line, then "
                  "relative/path<TAB>num_samples)")
      ->required();
  cmd->add_option("--teacher", t->teacher,
                  "kmeans-mfcc | kmeans-chroma | kmeans-layer | bestrq | encodec")
      ->required();
  cmd->add_option("--out", o->out_dir, "Output folder of the label set")->required();
  cmd->add_option("--split", o->split, "Label file prefix (default: the manifest's stem)");
  cmd->add_option("--k", t->k,
                  "k-means clusters (default 100 for MFCC, 64 for chroma, 500 for a layer)");
  cmd->add_option("--label-name", t->label_name,
                  "Name of the label stream written (<split>.<name>; default: the teacher's, e.g. "
                  "km); lets several k-means teachers share one folder");
  cmd->add_option("--kmeans", o->kmeans_path, "Use this fitted k-means model (safetensors)");
  cmd->add_option("--percent", o->percent, "Fraction of entries the k-means is fitted on")
      ->capture_default_str();
  cmd->add_option("--max-frames", o->max_frames_per_entry,
                  "k-means fit: at most this many random frames per entry (0 = all)")
      ->capture_default_str();
  cmd->add_option("--model", t->model, "Encoder model dir (kmeans-layer, bestrq)");
  cmd->add_option("--layer", t->layer, "kmeans-layer: hidden state index")->capture_default_str();
  cmd->add_option("--codec", t->codec, "EnCodec model dir (encodec)");
  cmd->add_option("--bandwidth", t->bandwidth,
                  "encodec: kbps (1.5, 3, 6, 12, 24; 6 -> 8 codebooks)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the k-means and its entry sample")
      ->capture_default_str();
  cmd->add_option("--shard", o->shard, "This shard's index (default: RANK, else 0)");
  cmd->add_option("--nshards", o->nshards, "Number of shards (default: WORLD_SIZE, else 1)");
  cmd->add_flag("--merge", opts->merge, "Concatenate the --nshards shards into <split>.<label>");
  cmd->add_flag("--verify", opts->verify,
                "Only check an existing label set against the manifest: one line per entry, "
                "labels vs duration x rate within --tolerance, ids in the dictionary");
  cmd->add_option("--label-rate", o->label_rate,
                  "--verify: labels per second (default: the "
                  "teacher's)");
  cmd->add_option("--tolerance", o->tolerance_s, "--verify: seconds of length mismatch allowed")
      ->capture_default_str();
  cmd->add_option("--sample-rate", t->sample_rate,
                  "Rate of the manifest's sample counts, and of the MFCC teacher's audio")
      ->capture_default_str();
  add_threads_option(cmd);
  cmd->add_option("--device", t->device, "cpu or cuda[:N] (kmeans-layer, encodec)")
      ->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Refit and relabel from scratch");
  cmd->callback([opts] { run(*opts); });
}

}  // namespace musefm::cli
