// Pretraining: masked prediction of teacher targets (MERT / HuBERT and MusicFM recipes), from
// one CPU process to many GPUs through c10d.
//
//   auto cfg = musefm::PretrainConfig::load("configs/pretrain/tiny-cpu.json");
//   cfg.data.manifest_dir = "labels/";               // train.tsv + train.km + dict.km.txt
//   cfg.validate();                                   // throws musefm::Error naming the key
//   musefm::Pretrainer trainer(cfg, "runs/tiny", musefm::Collective::from_env());
//   musefm::PretrainResult r = trainer.run([](const musefm::StepRecord& s) { show(s); });
//   musefm::export_checkpoint(r.last_checkpoint, "models/tiny");   // for musefm extract
//
// Data: a fairseq manifest (<split>.tsv) and label files (<split>.<name>, dict.<name>.txt),
// checked with verify_labels() before any compute. Items shorter than min_sample_size are
// left out; a micro-batch is cropped to min(max_sample_size, its shortest item) at random
// offsets; MERT's in-batch noise mixup; CQT targets from the clean audio.
// Objective: "cosine" = HuBERT / MERT (final projection, cosine similarity to learned label
// embeddings / logit_temp, cross-entropy per codebook) or "linear" = MusicFM (a linear layer
// per codebook); span masking with a learned embedding (MERT) or MusicFM's noise masking of the
// waveform; loss on masked frames only; optional CQT regression (MSE) and feature penalty.
// Optimisation: AdamW, warmup + polynomial or cosine decay, clipping, accumulation, a guard
// that skips non-finite steps.
//
// Updates: an update is world_size x optim.accumulate consecutive micro-batches of the plan;
// micro-batch j of an update runs on rank j % world_size, and the loss is normalised by the
// masked frames of the whole update. Crops, masks, mixup and noise are functions of (seed,
// micro-batch, item); the default generator (dropout) is reseeded from (seed, step, j) before
// every micro-batch. Hence a run resumed from a checkpoint continues exactly as an
// uninterrupted one, and N ranks give the parameters of one rank that accumulates N
// micro-batches (bit for bit on CPU: every micro-batch is computed the same way). MusicFM's
// BatchNorm statistics are per micro-batch; its running statistics follow rank 0 (DDP's
// broadcast_buffers).
//
// Thread safety: a Pretrainer is used from one thread; it runs its own loader threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "musefm/distributed.h"
#include "musefm/encoder_config.h"
#include "musefm/enum_names.h"
#include "musefm/error.h"

namespace musefm {

/// Prediction head: cosine similarity to label embeddings (HuBERT / MERT) or linear (MusicFM).
enum class Prediction { Cosine, Linear };
MUSEFM_ENUM_NAMES(Prediction, {Prediction::Cosine, "cosine"}, {Prediction::Linear, "linear"});
/// What the CQT head regresses (see PretrainObjectiveConfig::cqt_target).
enum class CqtTargetScale { Magnitude, Log };
MUSEFM_ENUM_NAMES(CqtTargetScale, {CqtTargetScale::Magnitude, "magnitude"},
                  {CqtTargetScale::Log, "log"});
/// Which frames the CQT loss covers.
enum class CqtFrames { Masked, All };
MUSEFM_ENUM_NAMES(CqtFrames, {CqtFrames::Masked, "masked"}, {CqtFrames::All, "all"});
/// Masking: learned span embedding (HuBERT / MERT) or waveform noise (MusicFM).
enum class Masking { Span, Noise };
MUSEFM_ENUM_NAMES(Masking, {Masking::Span, "span"}, {Masking::Noise, "noise"});
/// Learning-rate decay after warm-up.
enum class LrSchedule { Polynomial, Cosine, Constant };
MUSEFM_ENUM_NAMES(LrSchedule, {LrSchedule::Polynomial, "polynomial"},
                  {LrSchedule::Cosine, "cosine"}, {LrSchedule::Constant, "constant"});
/// Training precision: auto (bf16 autocast on CUDA, fp32 on CPU), fp32 or bf16.
enum class TrainPrecision { Auto, Fp32, Bf16 };
MUSEFM_ENUM_NAMES(TrainPrecision, {TrainPrecision::Auto, "auto"}, {TrainPrecision::Fp32, "fp32"},
                  {TrainPrecision::Bf16, "bf16"});
/// Gradient all-reduce: the process group's backend (NCCL on GPUs) or gloo.
enum class GradientBackend { Auto, Gloo };
MUSEFM_ENUM_NAMES(GradientBackend, {GradientBackend::Auto, "auto"},
                  {GradientBackend::Gloo, "gloo"});

/// Where the audio and the targets come from, and how batches are formed.
struct PretrainDataConfig {
  std::string manifest_dir;               ///< folder holding <split>.tsv (fairseq manifest)
  std::string labels_dir;                 ///< folder of <split>.<label> + dict; "" = manifest_dir
  std::string train_split = "train";      ///< manifest / label split name
  std::string valid_split;                ///< "" = no validation
  std::vector<std::string> labels{"km"};  ///< label names (one codebook each)
  double label_rate = 75.0;               ///< label frames per second
  double label_tolerance_s = 0.1;         ///< verify_labels() duration tolerance
  int64_t max_sample_size = 120000;       ///< crop length (MERT-95M: 5 s at 24 kHz)
  int64_t min_sample_size = 72000;        ///< shorter items are left out (3 s)
  int64_t max_tokens = 2000000;           ///< samples per micro-batch (= per rank and step)
  int max_batch_items = 0;                ///< items per micro-batch; 0 = no limit
  double mixup_prob = 0.5;                ///< MERT: chance an item gets in-batch noise
  int mixup_max_segments = 3;             ///< 1..this many segments from other items
  int64_t mixup_min_length = 12000;       ///< segment length range (samples)
  int64_t mixup_max_length = 24000;
  double mixup_volume = 1.0;      ///< segment gain
  int loader_threads = 2;         ///< background threads that decode and crop audio
  int prefetch = 4;               ///< micro-batches prepared ahead
  int64_t audio_cache_mb = 2048;  ///< decoded audio kept in memory (24 kHz mono float)
};

/// The masked-prediction objective.
struct PretrainObjectiveConfig {
  Prediction prediction = Prediction::Cosine;  ///< cosine (HuBERT / MERT) or linear (MusicFM)
  int final_dim = 64;       ///< cosine: projection size per codebook (MERT-95M: 64)
  double logit_temp = 0.1;  ///< cosine: logits = cos / logit_temp
  double cqt_weight = 1.0;  ///< weight of the CQT MSE (MERT: 1); 0 = no CQT head
  /// What the CQT head regresses: "magnitude" (MERT: |CQT| as nnAudio gives it; loud bins
  /// dominate the squared error, quiet partials and low notes hardly count) or "log"
  /// (log(1 + |CQT| / 1e-3): a -60 dB partial counts as much as a 0 dB one does on the linear
  /// scale, i.e. every audible note, as on a dB spectrogram).
  CqtTargetScale cqt_target = CqtTargetScale::Magnitude;
  /// Frames the CQT head regresses: "masked" (MERT) or "all" (also the visible frames, so the
  /// representation must keep every frame's spectrum; the squared error is still divided by
  /// the masked frames, i.e. it weighs 1 / mask share more than "masked").
  CqtFrames cqt_frames = CqtFrames::Masked;
  double feature_pen_weight = 10.0;  ///< HuBERT's features_pen (MERT: 10; MusicFM: 0)
  Masking masking = Masking::Span;   ///< span (learned embedding) or noise (MusicFM)
  double mask_prob = 0.8;            ///< span: fraction of frames starting spans (HuBERT)
  int mask_length = 5;               ///< span length in frames (MERT: 5, HuBERT: 10)
  int min_masks = 2;                 ///< spans per item at least
  double noise_chunk_s = 0.4;        ///< noise: chunk length (MusicFM: 400 ms)
  double noise_prob = 0.6;           ///< noise: chance a chunk is replaced by noise
  double noise_std = 0.1;            ///< noise: N(0, std^2)
  double feature_grad_mult = 0.1;    ///< gradient scale into the conv front-end (MERT-95M)
  double dropout = 0.0;              ///< hidden dropout (MERT-95M: 0.1)
  double attention_dropout = 0.0;    ///< on attention probabilities
  double activation_dropout = 0.0;   ///< inside the feed-forward block
  double dropout_input = 0.0;        ///< on the projected features
  double layerdrop = 0.0;            ///< chance a layer is skipped in training
};

/// AdamW and the learning-rate schedule.
struct PretrainOptimConfig {
  double lr = 5e-4;                              ///< peak learning rate
  double beta1 = 0.9;                            ///< Adam beta1
  double beta2 = 0.98;                           ///< Adam beta2 (fairseq recipes)
  double eps = 1e-6;                             ///< Adam epsilon
  double weight_decay = 0.01;                    ///< decoupled weight decay
  LrSchedule schedule = LrSchedule::Polynomial;  ///< polynomial, cosine or constant
  int64_t warmup_steps = 32000;                  ///< linear warmup from 0
  int64_t max_steps = 400000;                    ///< optimiser updates in the whole run
  double end_lr = 0.0;                           ///< learning rate at max_steps
  double power = 1.0;                            ///< polynomial decay power
  double clip_norm = 10.0;                       ///< gradient-norm clip; 0 = none
  int accumulate = 1;                            ///< micro-batches per update (fairseq update_freq)
  int max_skipped_steps = 10;  ///< consecutive non-finite steps before the run stops
};

/// Run control: seed, checkpoints, logging, device.
struct PretrainRunConfig {
  uint64_t seed = 1;                ///< everything random derives from it
  int64_t checkpoint_every = 1000;  ///< steps between checkpoints (and one at the end)
  int keep_last = 3;                ///< checkpoints kept
  int64_t valid_every = 0;          ///< steps between validations; 0 = only at the end
  int valid_batches = 8;            ///< micro-batches per validation
  std::string device = "cpu";       ///< "cpu", "cuda", "cuda:N" ("cuda" = LOCAL_RANK's GPU)
  TrainPrecision precision =
      TrainPrecision::Auto;  ///< auto (bf16 on CUDA, fp32 on CPU), fp32, bf16
  double bucket_mb = 25.0;   ///< gradient all-reduce bucket size
  /// Gradients of CUDA runs: "auto" (NCCL when this build has it, else gloo via host memory)
  /// or "gloo" (e.g. several ranks sharing one GPU, which NCCL refuses).
  GradientBackend gradient_backend = GradientBackend::Auto;
  double max_seconds = 0.0;  ///< stop (with a checkpoint) after this wall time; 0 = none
};

/// A pretraining recipe: the model and everything about how it is trained.
struct PretrainConfig {
  EncoderConfig model = EncoderConfig::tiny_mert();
  PretrainDataConfig data;
  PretrainObjectiveConfig objective;
  PretrainOptimConfig optim;
  PretrainRunConfig run;

  /// Checks every field (names the key); also checks the model config.
  void validate() const;
  /// Resolved JSON (the model inline); round-trips through from_json().
  std::string to_json() const;
  /// `model` may be an object or a path to a model config, relative to `base_dir`. Unknown keys
  /// are rejected.
  static PretrainConfig from_json(const std::string& json, const std::string& base_dir = "");
  /// Reads a recipe file; `overrides` are "section.key=value" (JSON value or bare string),
  /// applied before parsing (CLI --set).
  static PretrainConfig load(const std::string& path,
                             const std::vector<std::string>& overrides = {});
};

/// One optimiser update as it is logged (train.jsonl, rank 0).
struct StepRecord {
  int64_t step = 0, max_steps = 0, epoch = 0;
  double lr = 0, loss = 0, grad_norm = 0;
  std::map<std::string, double> losses;    ///< per target ("km", "cqt", "features_pen")
  std::map<std::string, double> accuracy;  ///< masked-frame accuracy per label
  int64_t masked_frames = 0, samples = 0;  ///< this update, all ranks
  double samples_per_s = 0, tokens_per_s = 0, elapsed_s = 0;
  bool skipped = false;  ///< non-finite loss or gradients: update skipped
  std::string to_json() const;
};

/// Validation pass: mean loss and masked accuracy per label.
struct ValidRecord {
  int64_t step = 0;
  double loss = 0;
  std::map<std::string, double> accuracy;
};

struct PretrainResult {
  int64_t first_step = 0, last_step = 0;  ///< steps run by this call (first = 0 unless resumed)
  int64_t max_steps = 0;                  ///< the run's optim.max_steps
  std::string out_dir;                    ///< the run folder
  std::string last_checkpoint;            ///< path of the newest checkpoint
  StepRecord last;                        ///< the final update
  std::vector<ValidRecord> valid;         ///< every validation of this call
  int64_t skipped_items = 0;              ///< manifest entries left out (too short, unreadable)
  /// What the run did in a few lines: steps, loss and masked accuracy, the last validation,
  /// the entries left out, the checkpoint, and how to resume or export.
  std::string summary() const;
};

/// "km 0.1 chroma 0.2": per-label values in one line, `precision` significant digits.
std::string format_metrics(const std::map<std::string, double>& values, int precision = 4);

/// Deletes a run folder's checkpoints, train.jsonl, failures.jsonl and config.json (what
/// `musefm pretrain --overwrite` forgets); other files in the folder are kept.
void clear_run(const std::string& out_dir);

class Pretrainer {
 public:
  /// Checks the config, the manifest and the label sets (verify_labels, dictionary sizes)
  /// before any compute; throws musefm::Error naming the file / key. Resumes from the newest
  /// checkpoint in `out_dir`/checkpoints when one exists (its model, data and objective config
  /// must equal `config`'s).
  Pretrainer(const PretrainConfig& config, const std::string& out_dir,
             std::shared_ptr<Collective> group = Collective::single());
  ~Pretrainer();
  /// Trains until optim.max_steps (or run.max_seconds); `on_step` sees every update (rank 0).
  PretrainResult run(const std::function<void(const StepRecord&)>& on_step = {});
  /// Updates done so far (0 on a fresh run; the checkpoint's step after a resume).
  int64_t next_step() const;
  /// Asks every running Pretrainer of this process to stop after the current update, with a
  /// checkpoint (async-signal-safe: call it from a SIGINT / SIGTERM handler).
  static void request_stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Writes the encoder of a training checkpoint as a model directory (config.json +
/// model.safetensors with the Hugging Face / MusicFM names) that Encoder::load and
/// `musefm extract` read. `checkpoint_path` may be a run folder (or its checkpoints folder): its
/// newest checkpoint is exported. Returns the checkpoint file exported.
std::string export_checkpoint(const std::string& checkpoint_path, const std::string& model_dir);

/// Newest checkpoint (`step-*.safetensors`) of a run's folder or checkpoint folder; "" if none.
std::string latest_checkpoint(const std::string& dir);

}  // namespace musefm
