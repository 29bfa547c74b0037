// Probing: how much a frozen encoder's layers know about a task, measured with MARBLE's
// protocol (shared reference models.md section 5.2) on task folders in the format of
// configs/probe/README.md.
//
//   musefm::ProbeTask task = musefm::ProbeTask::load("data/probe/key");  // task.json + splits
//   musefm::FeatureSource src = musefm::FeatureSource::open("models/mert-v1-95m");  // or "mfcc"
//   musefm::ProbeDataset data;                      // [N, L, H] per split, mean-pooled
//   data.train = musefm::probe_features(src, task, "train", "cache/probe");  // cached on disk
//   data.valid = musefm::probe_features(src, task, "valid", "cache/probe");
//   data.test = musefm::probe_features(src, task, "test", "cache/probe");
//   musefm::ProbeConfig cfg;                        // MARBLE's MLP: 512 units, lr grid, ...
//   cfg.probe = musefm::ProbeKind::Mlp;
//   musefm::ProbeScores s = musefm::run_probe(task, data, /*layer=*/6, cfg);
//   double acc = s.test.at("accuracy");             // best-validation model on the test split
//   s = musefm::run_probe(task, data, musefm::kWeightedLayers, cfg);  // softmax-weighted sum
//
// Features. Every hidden state of the model is extracted once per clip (or per window of a
// clip, task "mode" window) and averaged over time: a [N, L, H] float32 tensor per split.
// Baselines have one "layer": "mfcc" = mean and standard deviation over time of the 39-dim
// HuBERT MFCC (KaldiMfccConfig::hubert(16000), audio resampled to 16 kHz) -> 78 dims;
// "chroma" = mean and standard deviation of librosa's chroma_cqt (ChromaConfig defaults,
// 22,050 Hz) -> 24 dims. Audio is decoded at its own rate, mixed to mono and resampled to the
// source's rate with libsoxr's HQ recipe, as librosa.load(path, sr=rate) does. Window mode cuts
// each clip into windows of window_s seconds every
// hop_s seconds (the last partial window is dropped; a clip shorter than one window is one
// window); each window is one row, and ProbeFeatures::clip maps rows back to clips.
//
// Cache. probe_features() stores each split as <cache>/<source key>/<task name>-<8 hex of the
// task folder's absolute path>/<split>.safetensors (tensors "features" [N, L, H] float32 and
// "clip" [N] int64; written atomically). The source key of a model dir is "<dir name>-<16 hex>",
// the hex being FNV-1a 64 over config.json's bytes and model.safetensors' size, modification
// time and header (so re-exported or retrained weights get a new key); a baseline's key is
// "mfcc-<hex>" / "chroma-<hex>" over its feature config. A cached file is reused when its
// metadata "fingerprint" (FNV-1a of every clip's resolved path, size and modification time,
// the mode and the extraction settings) still matches; otherwise the split is recomputed.
//
// Probes. Features are standardised per layer and dimension with train statistics.
//  - linear: multiclass = softmax regression, multilabel = one logistic regression per label,
//    both with an L2 penalty (sum of losses + l2/2 |W|^2, sklearn LogisticRegression with
//    C = 1/l2, intercept unpenalised) minimised to convergence by full-batch L-BFGS in float64;
//    regression = closed-form ridge (sklearn Ridge, alpha = l2) on standardised targets. The L2
//    strength is chosen on the validation split from ProbeConfig::l2_grid. The weighted-sum
//    layer is the same objective with learned softmax layer weights (L-BFGS, non-convex: the
//    head is fitted on uniform weights first, then everything together); the weighted sum is
//    re-standardised with train statistics, else the L2 penalty would favour single layers.
//    Deterministic: seeds do not change it, so it runs once.
//  - mlp: MARBLE's ProberForBertUtterCLS: Linear(H, 512) - ReLU - Dropout(0.2) - Linear; Adam,
//    batch 64, each learning rate of lr_grid, ReduceLROnPlateau(factor 0.5, patience 5) on the
//    validation metric, early stopping after 10 epochs without improvement, at most 100
//    epochs; the best-validation weights of the best learning rate are tested (equal
//    validation scores, common for accuracy on small splits, are told apart by the lower
//    validation loss, for the kept checkpoint and the lr choice; early stopping and the
//    scheduler follow the metric alone, as MARBLE's). Seeded (init,
//    batch order and dropout from one CPU generator): bit-identical reruns on CPU.
// Window-mode tasks average the windows' predictions (probabilities / values) per clip before
// scoring. Scores use musefm/metrics.h; the task's first metric selects on validation.
//
// Beat tasks (frame-level binary). Features are not pooled: every frame of a clip is a row
// (models at their frame rate, e.g. 75 Hz; the MFCC baseline's 39 coefficients at 100 Hz; the
// chroma baseline's 12 bins at 22,050 / 512 Hz), row k of a clip at k / frame_rate seconds. A
// frame is a positive target when it lies within max(35 ms, half a frame) of an annotated beat.
// The probes are the multilabel ones with one output (logistic / BCE); the MLP batches
// batch_size whole clips per step. Beats are picked from each clip's frame probabilities
// (local maxima within +-100 ms reaching half of the clip's largest value) and scored with
// beat_f_measure (mir_eval.beat.f_measure, +-70 ms, no trimming), averaged over clips. The
// frame-level probes visit every frame of the train split: on 2 CPU cores the MLP takes ~1 s
// per epoch per 100,000 frames and one evaluation of the weighted-sum objective ~1.7 s for
// 216,000 frames x 5 layers x 128 dims, so the default suite runs the linear probe on single
// layers only.
//
// Thread safety: ProbeTask and FeatureSource are immutable after construction and may be
// shared; run_probe() is re-entrant (it uses no global random state).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "musefm/encoder.h"  // Precision
#include "musefm/enum_names.h"
#include "musefm/error.h"
#include "musefm/extract.h"  // Pool
#include "musefm/progress.h"

namespace musefm {

// ---- tasks ------------------------------------------------------------------------------------

/// Beat: frame-level binary, a list of event times (seconds) per clip; probed frame by frame.
enum class ProbeTaskType { Multiclass, Multilabel, Regression, Beat };
/// "multiclass" | "multilabel" | "regression" | "beat".
std::string to_string(ProbeTaskType type);

/// One clip of a split.
struct ProbeItem {
  std::string audio;           ///< path of the clip (resolved against the task folder)
  int line = 0;                ///< line in the label file (1 = header)
  std::vector<int> classes;    ///< multiclass: one index; multilabel: the indices present
  std::vector<double> values;  ///< regression: one value per target; beat: event times (s)
};

/// One split's label file, parsed.
struct ProbeSplit {
  std::string name;  ///< "train", "valid" or "test"
  std::string file;  ///< label file path
  std::vector<ProbeItem> items;
};

/// A task folder (configs/probe/README.md): task.json, label files, audio.
struct ProbeTask {
  std::string name;  ///< task.json "name"
  std::string dir;   ///< the task folder
  ProbeTaskType type = ProbeTaskType::Multiclass;
  std::vector<std::string> labels;   ///< class names in output order, or regression targets
  std::vector<std::string> metrics;  ///< the first selects on validation
  std::string mode = "clip";         ///< "clip" or "window"
  double window_s = 0.0;             ///< window mode: window length (s)
  double hop_s = 0.0;                ///< window mode: seconds between window starts
  int sample_rate = 0;               ///< rate of the audio files (informative; audio is resampled)
  std::vector<ProbeSplit> splits;    ///< train, valid, test (in that order)

  /// Reads `path` (a task.json or its folder) and every split's label file. Throws
  /// musefm::Error naming the file (and line) on: unknown or ill-typed keys, a metric the task
  /// type has no meaning for, an unknown label (file:line and the label), a missing audio file
  /// (its path), an empty split (its name), a malformed line. `check_audio` = false skips the
  /// audio existence check.
  static ProbeTask load(const std::string& path, bool check_audio = true);
  /// The split called `name`; throws if there is none.
  const ProbeSplit& split(const std::string& name) const;
  /// Outputs of a probe: classes, labels or regression targets.
  int num_outputs() const { return int(labels.size()); }
};

// ---- features ---------------------------------------------------------------------------------

/// Pooled features of one split (frames for beat tasks).
struct ProbeFeatures {
  at::Tensor x;               ///< [N, L, H] float32 on the CPU: rows x layers x dims
  std::vector<int64_t> clip;  ///< per row: index of its clip in ProbeSplit::items
  int64_t num_clips = 0;      ///< items of the split
  /// Beat tasks: rows are frames, consecutive and in time order per clip, row k of a clip at
  /// k / frame_rate seconds. 0 for pooled rows (clip or window mode).
  double frame_rate = 0;
  /// Clips left out, with the reason ("<label file>:<line>: '<audio>': <error>"): audio that
  /// failed to decode or to encode. They have no row and are not scored.
  std::map<int64_t, std::string> failed;
};

/// Train / valid / test features of one task and source.
struct ProbeDataset {
  ProbeFeatures train, valid, test;
};

/// Progress of a long job: items done out of total; `what` names the current item.
using ProbeProgress = std::function<void(int64_t done, int64_t total, const std::string& what)>;

/// Where features come from: a model dir (every hidden state), a baseline ("mfcc", "chroma"),
/// or precomputed features ("features:DIR": DIR/<task name>/<split>.safetensors holding
/// "features" [N, L, H] and optionally "clip" [N] int64; without "clip", N = clips; frame rows
/// of a beat task need the metadata "frame_rate").
class FeatureSource {
 public:
  /// Opens `spec`; a model is loaded on `device`, windows run `batch` per forward pass at
  /// `precision` (another than fp32 is part of the cache key and the name: "dir@bf16") and
  /// each layer is pooled over time by `pool`: mean (MARBLE's protocol) or mean+std, as the
  /// baselines are (2 x H dims; part of the key and the name: "dir@mean+std"). Baselines are
  /// always mean+std; frame-level (beat) tasks are never pooled. Pool none is refused.
  static FeatureSource open(const std::string& spec, const std::string& device = "cpu",
                            int batch = 4, Precision precision = Precision::Fp32,
                            Pool pool = Pool::Mean);
  const std::string& spec() const;
  /// Short name for reports: the model dir's folder name, "mfcc", "chroma", the features dir.
  const std::string& name() const;
  /// Cache key (see the cache section above); precomputed features have none ("").
  const std::string& key() const;
  /// "model", "baseline" or "features".
  const std::string& kind() const;
  /// Features of one split, computed now. A clip whose audio fails to decode (or to encode)
  /// is left out and listed in ProbeFeatures::failed, naming the file, its label file line
  /// and the reason; the rest of the split is computed. Throws when no clip is left.
  ProbeFeatures compute(const ProbeTask& task, const std::string& split,
                        const ProbeProgress& progress = {}) const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

/// compute() through the on-disk cache under `cache_dir` ("" = no cache). `from_cache` (if
/// given) says whether the cache answered.
ProbeFeatures probe_features(const FeatureSource& source, const ProbeTask& task,
                             const std::string& split, const std::string& cache_dir,
                             const ProbeProgress& progress = {}, bool* from_cache = nullptr);

// ---- probes -----------------------------------------------------------------------------------

/// Layer argument of run_probe() for the learned softmax-weighted sum of every layer.
constexpr int kWeightedLayers = -1;

/// The probe trained on frozen features: logistic / ridge regression, or MARBLE's MLP.
enum class ProbeKind { Linear, Mlp };
MUSEFM_ENUM_NAMES(ProbeKind, {ProbeKind::Linear, "linear"}, {ProbeKind::Mlp, "mlp"});

/// How a probe is trained. Defaults: MARBLE's constrained track (models.md 5.2) for the MLP.
struct ProbeConfig {
  ProbeKind probe = ProbeKind::Linear;  ///< linear or mlp
  /// linear: L2 strengths tried (1/C of sklearn LogisticRegression, alpha of Ridge), chosen on
  /// validation; one value = no selection.
  std::vector<double> l2_grid = {0.01, 0.1, 1.0, 10.0, 100.0, 1000.0};
  int lbfgs_max_iter = 500;  ///< linear: L-BFGS iterations at most
  double lbfgs_tol = 1e-7;   ///< linear: stop when max |gradient| of the mean loss is below
  int hidden = 512;          ///< mlp: hidden units (MARBLE)
  double dropout = 0.2;      ///< mlp: dropout after the ReLU (MARBLE)
  /// mlp: learning rates tried (MARBLE appendix A), the best on validation is tested.
  std::vector<double> lr_grid = {5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2};
  int batch_size = 64;           ///< mlp: clips (or windows) per Adam step (MARBLE)
  int max_epochs = 100;          ///< mlp: epochs at most (MARBLE)
  int early_stop_patience = 10;  ///< mlp: epochs without a better validation score before stop
  int lr_patience = 5;           ///< mlp: ReduceLROnPlateau patience (epochs)
  double lr_factor = 0.5;        ///< mlp: ReduceLROnPlateau factor
  uint64_t seed = 0;             ///< mlp: initialisation, batch order and dropout
  std::string device = "cpu";    ///< "cpu", "cuda", "cuda:N"

  void validate() const;
  std::string to_json() const;
  /// Unknown keys are rejected.
  static ProbeConfig from_json(const std::string& json);
};

/// Scores of one trained probe.
struct ProbeScores {
  std::map<std::string, double> valid;  ///< metric -> value on the validation split
  std::map<std::string, double> test;   ///< metric -> value on the test split
  std::string selected;                 ///< hyper-parameter chosen on validation ("lr=0.001")
  std::vector<double> layer_weights;    ///< weighted sum: the learned softmax weights
  int epochs = 0;                       ///< mlp: epochs run with the selected lr; linear: iters
};

/// Trains a probe on data.train, selects on data.valid and scores data.test. `layer` indexes
/// the L axis of the features (0..L-1), or kWeightedLayers.
ProbeScores run_probe(const ProbeTask& task, const ProbeDataset& data, int layer,
                      const ProbeConfig& config);

/// Scores predictions of the rows of one split: `outputs` is [rows, num_outputs] (class
/// probabilities, label probabilities or regression values); rows of one clip (`clip`) are
/// averaged first; clips without a row (ProbeFeatures::failed) are left out. Beat tasks: rows
/// are frames at `frame_rate` (consecutive per clip), beats are picked from each clip's
/// activations and "beat_f1" is the mean of beat_f_measure over clips. Returns every metric of
/// task.metrics.
std::map<std::string, double> score_probe_outputs(const ProbeTask& task, const ProbeSplit& split,
                                                  const at::Tensor& outputs,
                                                  const std::vector<int64_t>& clip,
                                                  double frame_rate = 0);

// ---- reports ----------------------------------------------------------------------------------

/// One probe run (one seed) as stored in <out>/results.jsonl.
struct ProbeResult {
  std::string model;                 ///< FeatureSource::name()
  std::string model_key;             ///< FeatureSource::key() (or the spec)
  std::string task;                  ///< task name
  std::string task_type;             ///< to_string(ProbeTaskType)
  std::vector<std::string> metrics;  ///< the task's metrics, first = selection metric
  std::string probe;                 ///< "linear" or "mlp"
  int layer = 0;                     ///< layer index, or kWeightedLayers
  int num_layers = 0;                ///< layers the source has
  uint64_t seed = 0;
  std::string run_key;  ///< identifies (source, task data, probe config, layer, seed): reruns skip
  ProbeScores scores;

  std::string to_json() const;  ///< one line
  static ProbeResult from_json(const std::string& json);
};

/// The report: report.json (every row: model x task x probe x layer, metrics mean / std over
/// seeds on valid and test, the best layer per model x task x probe marked, chosen by the
/// task's first metric on VALIDATION) and report.md (the same as Markdown tables, scores x 100,
/// test split). Both written atomically into `out_dir`.
void write_probe_report(const std::vector<ProbeResult>& results, const std::string& out_dir);
/// The report's JSON text (what write_probe_report writes as report.json).
std::string probe_report_json(const std::vector<ProbeResult>& results);
/// The report's Markdown text.
std::string probe_report_markdown(const std::vector<ProbeResult>& results);

// ---- suites -----------------------------------------------------------------------------------
//
//   musefm::ProbeSuiteOptions o;                    // what `musefm probe` does
//   o.models = {"models/mert-v1-95m", "mfcc"};
//   o.tasks = musefm::read_probe_suite("configs/probe/suite.json", "data/probe");
//   o.out = "runs/probe";                          // results.jsonl, report.json, report.md
//   o.cache = "cache/probe";
//   musefm::ProbeSuiteResult r = musefm::run_probe_suite(o);   // rerun: finished runs reused
//
// Every (source, task, probe, layer, seed) run has a run key: FNV-1a 64 over the source's key
// (or, for precomputed features, their files' sizes and times), the task folder, task.json
// and label files, the probe config and the layer. A run whose key is in <out>/results.jsonl
// is not trained again; a damaged line there is skipped (and its run redone).

/// A task of a suite: its folder, the probes allowed on it (empty = every probe) and the layers
/// it asks for ("" = ProbeSuiteOptions::layers).
struct ProbeSuiteTask {
  std::string path;
  std::vector<std::string> probes;
  std::string layers;
};

/// Task folders of a suite file (configs/probe/suite.json): "tasks" relative to `data_dir`,
/// each a folder name or {"name": folder, "probes": ["linear"], "layers": "single", "note": why}.
/// Throws on an unreadable file, unknown keys or bad values, naming the file.
std::vector<ProbeSuiteTask> read_probe_suite(const std::string& suite_file,
                                             const std::string& data_dir);

/// Layers of a layer spec for features with `count` layers: "all" = every layer and the
/// weighted sum (one layer: just it), "single" = every layer, else a comma list of indices
/// (negative from the end) and "weighted". Throws on a bad item or an index out of range.
std::vector<int> parse_probe_layers(const std::string& spec, int count);

/// What run_probe_suite() runs.
struct ProbeSuiteOptions {
  /// FeatureSource specs; empty = "default" (the shipped model), "mfcc" and "chroma".
  std::vector<std::string> models;
  std::vector<ProbeSuiteTask> tasks;
  std::string out;             ///< output folder
  std::string cache;           ///< feature cache folder; "" or "none" = no cache
  std::string probe = "both";  ///< linear, mlp or both
  std::string layers = "all";  ///< layer spec (parse_probe_layers) of tasks that give none
  int seeds = 3;               ///< mlp runs with seeds config.seed .. config.seed + seeds - 1
  int batch = 4;               ///< clips per forward pass when extracting
  Precision precision = Precision::Fp32;  ///< models' arithmetic when extracting (encoder.h)
  Pool pool = Pool::Mean;                 ///< models' pooling over time: mean (MARBLE) or mean+std
  /// Base probe config; `probe` and `seed` are set per run, `device` also extracts features.
  ProbeConfig config;
  bool overwrite = false;  ///< forget earlier results in <out>/results.jsonl
};

/// What run_probe_suite() did.
struct ProbeSuiteResult {
  std::vector<ProbeResult> results;  ///< every run asked for, in order (reused ones included)
  int reused = 0;                    ///< runs found in results.jsonl
  int computed = 0;                  ///< runs trained now
  int failed_clips = 0;              ///< clips left out (listed in failures.jsonl)
  std::string results_path, failures_path;
};

/// Runs every model x task x probe x layer x seed: features through the cache, each finished
/// run appended to <out>/results.jsonl at once (an interrupted suite resumes), the clips left
/// out in <out>/failures.jsonl (this run's), the settings in <out>/config.json, and
/// report.json / report.md after every task. Progress: a stage per split's features and per
/// probe of a task; warnings for clips left out and damaged results lines; info lines for
/// cached features and probes a suite skips. Throws on bad options or tasks (all tasks are
/// loaded and checked before any work).
ProbeSuiteResult run_probe_suite(ProbeSuiteOptions options, const ProgressCallbacks& progress = {});

/// The feature cache folder used when none is given: $MUSEFM_PROBE_CACHE, else
/// $XDG_CACHE_HOME/musefm/probe, else ~/.cache/musefm/probe, else ./musefm-probe-cache.
std::string default_probe_cache();

/// A human-readable summary of a suite run written to `out`: one line per model x task x probe
/// with its best layer (chosen on valid) and the test score, what was reused, the clips left
/// out and where the reports are.
std::string probe_suite_summary(const ProbeSuiteResult& result, const std::string& out);

}  // namespace musefm
