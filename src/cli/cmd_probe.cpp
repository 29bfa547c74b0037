// musefm probe: MARBLE-protocol probes of every layer of one or more models (and the MFCC /
// chroma baselines) on probe task folders: the options of musefm::run_probe_suite()
// (musefm/probe.h), its progress bars and the summary of the best layers.

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "musefm/overrides.h"
#include "musefm/probe.h"

namespace musefm::cli {
namespace {

struct ProbeOptions {
  ProbeSuiteOptions run;  // bound directly where a flag maps to one field
  std::vector<std::string> tasks, set;
  std::string suite, data, device = "cpu";
  bool quiet = false;
};

void run_probe_command(ProbeOptions o) {
  ProbeSuiteOptions& s = o.run;
  s.config = with_overrides(ProbeConfig{}, o.set);  // "key=value": a JSON value or a string
  s.config.device = o.device;
  s.config.validate();
  if (s.cache.empty()) s.cache = default_probe_cache();
  for (const auto& t : o.tasks) s.tasks.push_back({t, {}, ""});
  if (!o.suite.empty())
    for (auto& t : read_probe_suite(o.suite, o.data)) s.tasks.push_back(std::move(t));
  MUSEFM_CHECK(!s.tasks.empty(),
               "no task: give --task DIR (repeatable) or --suite FILE --data DIR");
  MUSEFM_CHECK(o.data.empty() || !o.suite.empty(), "--data is used with --suite only");
  const ProbeSuiteResult r = run_probe_suite(s, progress_callbacks("musefm probe: ", "", o.quiet));
  if (r.failed_clips > 0) exit_code() = 1;  // the good clips were probed; the bad ones are listed
  if (!o.quiet) std::fputs(probe_suite_summary(r, s.out).c_str(), stdout);
}
}  // namespace

void add_probe_command(CLI::App& app) {
  auto o = std::make_shared<ProbeOptions>();
  auto* cmd = app.add_subcommand(
      "probe",
      "Probe every layer of frozen models on probe tasks (MARBLE protocol; task folders as\n"
      "written by tools/make_probe_data.py, format in configs/probe/README.md).\n"
      "Each model's hidden states are extracted once per clip (or window), pooled (--pool) and\n"
      "cached (--cache); then per layer and for a learned softmax-weighted sum of layers:\n"
      "  linear  L2 logistic regression (multiclass / per label) or ridge (regression), the L2\n"
      "          strength chosen on the validation split; deterministic, run once\n"
      "  mlp     Linear(H,512)-ReLU-Dropout(0.2)-Linear, Adam, lr in {5e-5..1e-2} chosen on\n"
      "          validation, ReduceLROnPlateau, early stopping; --seeds runs, mean ± std\n"
      "Baselines through the same probes: --model mfcc (HuBERT MFCC mean+std), --model chroma\n"
      "(librosa chroma mean+std). Precomputed embeddings: --model features:DIR holding\n"
      "DIR/<task>/<split>.safetensors ('features' [N, L, H]). Writes <out>/results.jsonl (one\n"
      "line per run; a rerun skips finished runs), <out>/report.json, <out>/report.md and\n"
      "<out>/config.json (the settings); the best layer is marked, chosen on validation.\n"
      "Beat tasks (type beat) are probed frame by frame: every frame is a row, beats are\n"
      "picked from the frame probabilities and scored with mir_eval's beat F-measure.\n"
      "A clip that cannot be decoded is left out, listed in <out>/failures.jsonl and makes the\n"
      "exit status 1; the rest is probed.\n"
      "Examples:\n"
      "  musefm probe --model models/mert-v1-95m --model mfcc --model chroma \\\n"
      "      --suite configs/probe/suite.json --data data/probe --out runs/probe\n"
      "  musefm probe --model models/mert-v1-95m --task data/probe/key --out runs/key\n"
      "  musefm probe --model models/musicfm --task data/probe/tempo --probe linear --layers "
      "0,6,-1 --out runs/p\n"
      "  tools/plot_probe.py runs/probe/report.json --out layers.png");
  cmd->add_option("--model,-m", o->run.models,
                  "Model dir (config.json + model.safetensors), default (the shipped model\n"
                  "musefm-small), mfcc, chroma or features:DIR (repeatable; none given: default,\n"
                  "mfcc and chroma)");
  cmd->add_option("--task,-t", o->tasks, "Task folder or its task.json (repeatable)");
  cmd->add_option("--suite", o->suite,
                  "Suite file listing task folders (e.g. configs/probe/suite.json); with --data");
  cmd->add_option("--data", o->data, "Folder holding the suite's task folders");
  cmd->add_option("--out,-o", o->run.out, "Output folder (results.jsonl, report.json, report.md)")
      ->required();
  cmd->add_option("--cache", o->run.cache,
                  "Feature cache folder, 'none' to disable (default: $MUSEFM_PROBE_CACHE, else "
                  "$XDG_CACHE_HOME/musefm/probe or ~/.cache/musefm/probe)");
  cmd->add_option("--probe", o->run.probe, "linear, mlp or both")->capture_default_str();
  cmd->add_option("--layers", o->run.layers,
                  "all (every layer + weighted sum), single (every layer) or a list such as "
                  "0,6,-1,weighted")
      ->capture_default_str();
  cmd->add_option("--seeds", o->run.seeds, "MLP runs with seeds seed..seed+N-1")
      ->capture_default_str();
  cmd->add_option("--set", o->set,
                  "Override a probe setting: key=value, e.g. max_epochs=50, "
                  "lr_grid=[1e-3], l2_grid=[1], hidden=256, seed=7 (repeatable)");
  cmd->add_option("--device", o->device, "cpu or cuda[:N] (extraction and probes)")
      ->capture_default_str();
  cmd->add_option("--batch", o->run.batch, "Clips per forward pass when extracting")
      ->capture_default_str();
  add_enum_option(cmd, "--precision", o->run.precision,
                  "Models' arithmetic when extracting: fp32, bf16, fp16 (CUDA) or int8 (CPU);\n"
                  "another than fp32 is cached and reported as its own source, e.g.\n"
                  "musefm-small@bf16");
  add_enum_option(cmd, "--pool", o->run.pool,
                  "Models' pooling over time: mean (MARBLE) or mean+std (as the baselines; cached\n"
                  "and reported as its own source, e.g. musefm-small@mean+std)");
  add_threads_option(cmd);
  cmd->add_flag("--overwrite", o->run.overwrite, "Forget earlier results in <out>/results.jsonl");
  cmd->add_flag("--quiet", o->quiet, "No progress bars or summary");
  cmd->callback([o] { run_probe_command(*o); });
}

}  // namespace musefm::cli
