// musefm pretrain / musefm export: masked-prediction pretraining from a recipe, and turning a
// checkpoint into a model dir for `musefm extract`.

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "musefm/distributed.h"
#include "musefm/train.h"

namespace musefm::cli {
namespace fs = std::filesystem;
namespace {

struct PretrainOptions {
  std::string recipe, data, labels, out;
  std::vector<std::string> set;
  int64_t max_steps = 0;
  double max_seconds = 0;
  std::string device;
  bool overwrite = false, quiet = false;
};

extern "C" void on_signal(int sig) {
  Pretrainer::request_stop();
  std::signal(sig, SIG_DFL);  // a second signal stops at once
}

void run_pretrain(const PretrainOptions& o) {
  PretrainConfig config = PretrainConfig::load(o.recipe, o.set);
  if (!o.data.empty()) config.data.manifest_dir = o.data;
  if (!o.labels.empty()) config.data.labels_dir = o.labels;
  if (o.max_steps > 0) config.optim.max_steps = o.max_steps;
  if (o.max_seconds > 0) config.run.max_seconds = o.max_seconds;
  if (!o.device.empty()) config.run.device = o.device;
  config.validate();
  auto group = Collective::from_env();
  if (o.overwrite && group->rank() == 0) clear_run(o.out);
  group->barrier();
  fs::create_directories(o.out);
  Pretrainer trainer(config, o.out, group);
  const int64_t start = trainer.next_step();
  const bool show = group->rank() == 0 && !o.quiet;
  if (show) {
    std::fprintf(stderr,
                 "musefm pretrain: %s model (%d layers x %d), %zu label set(s), %d rank(s)%s\n",
                 to_string(config.model.model_type).c_str(), config.model.num_hidden_layers,
                 config.model.hidden_size, config.data.labels.size(), group->world_size(),
                 start > 0 ? (", resuming at step " + std::to_string(start)).c_str() : "");
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::unique_ptr<Progress> bar;
  if (show) bar = std::make_unique<Progress>("pretrain", config.optim.max_steps - start);
  const PretrainResult r = trainer.run([&](const StepRecord& s) {
    if (!bar) return;
    std::ostringstream note;
    note.precision(4);
    note << "loss " << s.loss << " acc " << format_metrics(s.accuracy, 3)
         << (s.skipped ? " SKIPPED" : "");
    bar->step(1, note.str());
  });
  if (bar) bar->finish();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (show) std::fputs(r.summary().c_str(), stdout);
}
}  // namespace

void add_pretrain_command(CLI::App& app) {
  auto o = std::make_shared<PretrainOptions>();
  auto* cmd = app.add_subcommand(
      "pretrain",
      "Masked-prediction pretraining of a MERT- or MusicFM-style encoder from a recipe\n"
      "(configs/pretrain/*.json) on a fairseq manifest and label sets made by `musefm teach`.\n"
      "The label sets are verified before any compute. Writes <out>/train.jsonl (one line per\n"
      "update), <out>/config.json and atomic checkpoints in <out>/checkpoints; rerunning the\n"
      "same command resumes exactly where the newest checkpoint stopped (also after SIGKILL).\n"
      "Ctrl-C / SIGTERM stop after the current update with a checkpoint. Multi-process: launch\n"
      "with `torchrun --nproc-per-node N --no-python musefm pretrain ...` or `srun` (c10d gloo);\n"
      "only rank 0 writes. Examples:\n"
      "  musefm pretrain --config configs/pretrain/tiny-cpu.json --data labels/ --out runs/tiny\n"
      "  musefm pretrain --config configs/pretrain/mert-v1-95m.json --data data/ --out runs/95m "
      "\\\n"
      "      --set optim.lr=2e-4 --set data.max_tokens=1000000");
  cmd->add_option("--config", o->recipe, "Pretraining recipe (JSON)")->required();
  cmd->add_option("--data", o->data,
                  "Folder with <split>.tsv and the label sets (sets data.manifest_dir)");
  cmd->add_option("--labels", o->labels, "Label sets in another folder (data.labels_dir)");
  cmd->add_option("--out", o->out, "Run folder (log, config, checkpoints)")->required();
  cmd->add_option("--set", o->set, "Override a recipe field: section.key=value (repeatable)");
  cmd->add_option("--max-steps", o->max_steps, "Override optim.max_steps");
  cmd->add_option("--max-seconds", o->max_seconds,
                  "Stop with a checkpoint after this much training time (run.max_seconds)");
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N (run.device)");
  add_threads_option(cmd);
  cmd->add_flag("--overwrite", o->overwrite, "Delete the run folder's checkpoints and log first");
  cmd->add_flag("--quiet", o->quiet, "No progress bar or summary");
  cmd->callback([o] { run_pretrain(*o); });

  auto e = std::make_shared<std::pair<std::string, std::string>>();
  auto* ex = app.add_subcommand(
      "export",
      "Write the encoder of a pretraining checkpoint as a model dir (config.json +\n"
      "model.safetensors, Hugging Face / MusicFM names) for `musefm extract` and the C++ API.\n"
      "Example: musefm export runs/tiny --out models/tiny   (a run folder: its newest checkpoint)");
  ex->add_option("checkpoint", e->first, "Checkpoint file, or a run folder")->required();
  ex->add_option("--out", e->second, "Model dir to write")->required();
  ex->callback([e] {
    const std::string ck = export_checkpoint(e->first, e->second);
    std::printf("exported %s -> %s\n", ck.c_str(), e->second.c_str());
  });
}

}  // namespace musefm::cli
