// musefm/teachers.h — discrete targets for masked-prediction pretraining.
//
//   // k-means (HuBERT iteration 1: 39-dim MFCC, K = 100; iteration 2: a layer, K = 500)
//   musefm::KMeansConfig kc;  kc.k = 100;  kc.seed = 0;
//   musefm::KMeans km = musefm::KMeans::fit(frames /*[N, D] float*/, kc);
//   at::Tensor ids = km.assign(frames);            // [N] int64, nearest centroid
//   km.save("kmeans.safetensors");
//
//   // BEST-RQ (MusicFM): frozen random projection + codebook, loaded from a checkpoint
//   auto q = musefm::BestRq::load("musicfm_model_dir");
//   at::Tensor tokens = q.tokens(normalised_mel /*[B, 128, T]*/);  // [B, codebooks, T / 4]
//
// Distributed fitting: pass a Collective (musefm/distributed.h); each rank passes its own
// rows and every rank ends with the same model, equal to a one-process fit on all rows (up to
// float summation order): batches, the k-means++ sample and the reductions are defined on
// global row indices.
//
// Thread safety: a fitted KMeans / BestRq is immutable; assign() / tokens() may run
// concurrently.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "musefm/distributed.h"
#include "musefm/error.h"
#include "musefm/progress.h"

namespace musefm {

// ---- k-means -------------------------------------------------------------------------------

struct KMeansConfig {
  // Defaults: one greedy k-means++ on 40 k (at least 20,000) sampled rows, Lloyd iterations on
  // 256 k sampled rows, then Lloyd passes over all rows until one gains less than 0.1 %; no
  // mini-batches (benchmarks/RESULTS.md, k-means: on 1M x 39 rows, K = 500, within 1 % of
  // scikit-learn's fairseq recipe and as fast as faiss). max_epochs > 0 adds mini-batches
  // (scikit-learn's MiniBatchKMeans updates) between the two Lloyd stages.
  int k = 100;                  ///< clusters
  int64_t batch_size = 10000;   ///< rows per mini-batch (over all ranks)
  int max_epochs = 0;           ///< mini-batch passes over the data, at most
  int max_no_improvement = 10;  ///< stop after this many batches without a better smoothed
                                ///< batch inertia (0 = run all epochs)
  int sample_iterations = 20;   ///< Lloyd iterations on a sample, before the mini-batches
  int64_t sample_size = 0;      ///< rows of that sample (0 = 256 * k, faiss's default)
  int refine_iterations = 20;   ///< full-batch (Lloyd) iterations after the mini-batches
  double refine_tol = 1e-3;     ///< stop (sample and full) Lloyd when inertia improves by less
  int64_t init_size = 0;        ///< rows sampled for k-means++ (0 = max(40 * k, 20000))
  int n_init = 1;               ///< k-means++ runs on that sample; lowest inertia wins
  uint64_t seed = 0;            ///< every random choice derives from it

  void validate() const;
  std::string to_json() const;
  static KMeansConfig from_json(const std::string& json);
};

/// What a fit did (reported by `musefm teach` and stored in the model's metadata).
struct KMeansReport {
  int64_t rows = 0;  ///< over all ranks
  int64_t minibatch_steps = 0;
  int sample_iterations = 0;
  int refine_iterations = 0;
  int reseeded_clusters = 0;    ///< empty clusters moved to far points during refinement
  double inertia = 0;           ///< sum of squared distances to the nearest centroid
  std::vector<double> history;  ///< inertia after init, after mini-batches, per refinement
};

/// Progress callback: (phase "init" | "sample" | "minibatch" | "refine", step, total steps).
using KMeansProgress = std::function<void(const std::string&, int64_t, int64_t)>;

class KMeans {
 public:
  explicit KMeans(at::Tensor centroids);  ///< [K, D] float32

  /// k-means++ on a sample, mini-batch updates (sklearn MiniBatchKMeans's rule: a centre
  /// moves to the running mean of the rows assigned to it), then full-batch refinement with
  /// empty clusters re-seeded at the rows farthest from their centre. x: [N, D] float32 on
  /// CPU or CUDA (this rank's rows). Throws on fewer than k rows in total, or non-finite rows.
  static KMeans fit(const at::Tensor& x, const KMeansConfig& config, Collective* group = nullptr,
                    const KMeansProgress& progress = {}, KMeansReport* report = nullptr);

  at::Tensor assign(const at::Tensor& x) const;  ///< [N] int64
  /// Sum of squared distances of x's rows to their nearest centroid (summed over ranks).
  double inertia(const at::Tensor& x, Collective* group = nullptr) const;

  const at::Tensor& centroids() const { return centroids_; }
  int k() const { return int(centroids_.size(0)); }
  int64_t dim() const { return centroids_.size(1); }

  /// safetensors: "centroids" [K, D] f32 and string metadata (e.g. the feature recipe).
  void save(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const;
  static KMeans load(const std::string& path,
                     std::map<std::string, std::string>* metadata = nullptr);

 private:
  at::Tensor centroids_;
};

// ---- BEST-RQ -------------------------------------------------------------------------------

/// MusicFM's random-projection quantiser: normalised mel [B, F, T] -> stack `stack` frames
/// ([B, T / stack, stack * F], frame-major) -> x @ P (P [stack * F, dim]) -> L2-normalise x
/// and the codebook C [codes, dim] -> nearest code. Several codebooks give several tokens.
class BestRq {
 public:
  /// projections [n, in, dim], codebooks [n, codes, dim] (n codebooks), float.
  BestRq(at::Tensor projections, at::Tensor codebooks, int stack = 4);
  /// Seeded random quantiser: xavier-normal projections, standard-normal codebooks.
  static BestRq random(int num_codebooks, int64_t in_dim, int64_t dim, int64_t codes, uint64_t seed,
                       int stack = 4);
  /// From a MusicFM model dir or safetensors file holding
  /// quantizer_melspec_2048_<i>.{random_projection,codebook} (converted checkpoint), or a
  /// BestRq::save() file.
  static BestRq load(const std::string& path);
  void save(const std::string& path) const;

  at::Tensor tokens(const at::Tensor& mel) const;  ///< [B, n, T / stack] int64 (T floored)
  int num_codebooks() const { return int(projections_.size(0)); }
  int64_t codes() const { return codebooks_.size(1); }
  int stack() const { return stack_; }

 private:
  at::Tensor projections_, codebooks_;
  int stack_;
};

// ---- CQT reconstruction target (MERT) ------------------------------------------------------

class NnAudioCqt;  // musefm/features.h

/// MERT's musical target: nnAudio CQT magnitude of the clean waveform (336 bins, 48 per
/// octave from 32.7 Hz, hop 320 = 75 Hz, linear, unnormalised), transposed to [B, T', 336]
/// and cropped to the first `frames` encoder frames (mert_model.py). T' = floor(L / 320) + 1
/// is never shorter than MERT's conv frame count.
class CqtTarget {
 public:
  explicit CqtTarget(int sample_rate = 24000, double label_rate = 75.0);
  /// wav [L] or [B, L] at sample_rate; frames <= floor(L / hop) + 1. [B, frames, 336] ([frames,
  /// 336] for [L] input).
  at::Tensor operator()(const at::Tensor& wav, int64_t frames) const;
  int64_t bins() const;

 private:
  std::shared_ptr<const NnAudioCqt> cqt_;
};

// ---- label sets (fairseq layout) -----------------------------------------------------------

/// A fairseq label file `<split>.<name>`: one line per manifest entry, space-separated ids.
struct LabelFile {
  std::string name;                         ///< e.g. "km", "encodec_0"
  std::vector<std::vector<int64_t>> lines;  ///< ids per manifest entry
};

/// Writes `<dir>/<split>.<name>` and `<dir>/dict.<name>.txt` ("<id> 1" for 0..k-1), atomically.
void write_label_file(const std::string& dir, const std::string& split, const LabelFile& labels,
                      int64_t k);

/// What `musefm teach --verify` checks: one line per manifest entry; frames within
/// `tolerance_s` of duration x label rate; ids inside the dictionary; non-empty dictionary
/// and lines. Returns the problems (empty = the label set is valid), each naming the file and
/// line.
struct LabelCheck {
  std::string label_path, dict_path;
  int64_t lines = 0, k = 0;
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};
LabelCheck verify_labels(const std::string& manifest_path, const std::string& label_path,
                         const std::string& dict_path, double label_rate, double tolerance_s = 0.1,
                         int sample_rate = 0);

// ---- teachers and labelling a manifest -----------------------------------------------------
//
//   musefm::LabelOptions o;                          // what `musefm teach` does
//   o.manifest = "data/train.tsv";
//   o.out_dir = "labels";
//   o.teacher.teacher = "kmeans-mfcc";               // K = 100 on 39-dim MFCC, 100 Hz
//   musefm::LabelResult r = musefm::label_manifest(o);  // fits, labels, writes, verifies
//   if (!r.ok()) { /* r.failed entries (failures.jsonl), or r.verification.files problems */ }
//
//   o.shard = 1; o.nshards = 4;  musefm::label_manifest(o);  // one shard: train_1_4.km
//   musefm::LabelVerification v = musefm::merge_label_shards(o);  // train.km, verified
//
//   musefm::Teacher t = musefm::make_teacher(o.teacher);   // or one teacher by hand
//   musefm::attach_kmeans(t, "labels/kmeans.safetensors");
//   at::Tensor ids = t.label(wav /*[L] at t.sample_rate*/);  // [t.names.size(), T] int64

/// Which teacher, and its settings (the `musefm teach` options of the same names).
struct TeacherConfig {
  std::string teacher;         ///< kmeans-mfcc | kmeans-chroma | kmeans-layer | bestrq | encodec
  std::string label_name;      ///< renames a single label stream ("" = the teacher's: km, chroma)
  std::string model;           ///< kmeans-layer, bestrq: encoder model dir
  std::string codec;           ///< encodec: EnCodec model dir
  std::string device = "cpu";  ///< kmeans-layer, encodec
  int k = 0;                   ///< k-means clusters; 0: 100 (mfcc), 64 (chroma), 500 (layer)
  int layer = 6;               ///< kmeans-layer: hidden state index
  double bandwidth = 6.0;      ///< encodec: kbps (6 -> 8 codebooks)
  int sample_rate = 24000;     ///< kmeans-mfcc / -chroma audio rate (and the manifest's counts)
};

/// A teacher: label streams of one waveform.
struct Teacher {
  std::vector<std::string> names;  ///< label files: "km", "bestrq_0", "encodec_0", ...
  int64_t k = 0;                   ///< ids per label file: 0..k-1
  double rate = 0;                 ///< labels per second
  int sample_rate = 24000;         ///< rate of the waveforms it reads
  bool needs_kmeans = false;       ///< label is set by attach_kmeans()
  /// k-means teachers: frames [T, D] of one waveform [L], which the k-means is fitted on.
  std::function<at::Tensor(const at::Tensor&)> features;
  /// Label ids [names.size(), T] (int64) of one waveform [L].
  std::function<at::Tensor(const at::Tensor&)> label;
};

/// The teacher `c.teacher` names, with its model loaded. Throws on an unknown name, a missing
/// model / codec, or a label_name for a teacher with several streams.
Teacher make_teacher(const TeacherConfig& c);
/// Sets a k-means teacher's `label` to the k-means model at `kmeans_path`; its K becomes the
/// model's unless `keep_k` (then they must agree).
void attach_kmeans(Teacher& t, const std::string& kmeans_path, bool keep_k = false);
/// Label rate of a teacher without loading it: 0 when it depends on a model (kmeans-layer).
double teacher_label_rate(const std::string& teacher);
/// Label file names a teacher writes, e.g. {"encodec_0", ..., "encodec_7"} at 6 kbps.
std::vector<std::string> teacher_label_names(const TeacherConfig& c);

/// What label_manifest(), merge_label_shards() and verify_label_set() work on.
struct LabelOptions {
  std::string manifest;  ///< fairseq manifest (.tsv)
  std::string out_dir;   ///< label set folder (created)
  std::string split;     ///< label file prefix; "" = the manifest's stem
  TeacherConfig teacher;
  std::string kmeans_path;       ///< a fitted k-means to use; "" = fit (or reuse) one in out_dir
  double percent = 0.1;          ///< k-means fit: fraction of entries, in (0, 1]
  int max_frames_per_entry = 0;  ///< k-means fit: random frames kept per entry (0 = all)
  uint64_t seed = 0;             ///< k-means and its entry sample
  int shard = -1, nshards = 0;   ///< -1 / 0: from RANK / WORLD_SIZE, else 0 / 1
  bool overwrite = false;        ///< refit and relabel from scratch
  double tolerance_s = 0.1;      ///< verification: seconds of length mismatch allowed
  double label_rate = 0;         ///< verification: labels per second (0 = the teacher's)
};

/// Checks of every label file of a set (see verify_labels()).
struct LabelVerification {
  double rate = 0;         ///< labels per second checked against
  double tolerance_s = 0;  ///< seconds of length mismatch allowed
  std::vector<LabelCheck> files;
  bool ok() const {
    for (const auto& f : files)
      if (!f.ok()) return false;
    return true;
  }
  /// One line per file: "ok      PATH: N lines, K symbols, ..." or "INVALID PATH:" followed by
  /// one "  - problem" line per problem.
  std::string report() const;
};

/// What label_manifest() did.
struct LabelResult {
  std::string base;                ///< label file prefix of this shard ("train" or "train_1_4")
  std::string kmeans_path;         ///< the k-means used ("" for other teachers)
  int64_t entries = 0;             ///< entries of this shard
  int64_t resumed = 0;             ///< labelled by an earlier, interrupted run (journal)
  int64_t failed = 0;              ///< entries that failed (failures.jsonl); no label file written
  bool up_to_date = false;         ///< every label file existed: nothing was done
  LabelVerification verification;  ///< one-shard runs, after writing
  bool ok() const { return failed == 0 && verification.ok(); }
};

/// Labels (this shard of) a manifest: fits the k-means of a k-means teacher on `percent` of the
/// entries (every rank of a Collective::from_env() group together; <out>/kmeans.safetensors,
/// reused unless `overwrite`), labels the shard's entries with a journal
/// (<out>/.<base>.<teacher>.partial.jsonl, so an interrupted run resumes), writes
/// <out>/<base>.<name> and dict.<name>.txt atomically once every entry is labelled, and
/// verifies a one-shard set. An entry that fails (audio, teacher) is appended to
/// <out>/failures.jsonl and counted in LabelResult::failed; the rest are labelled and kept in
/// the journal. Throws on bad options or an unreadable manifest.
LabelResult label_manifest(LabelOptions options, const ProgressCallbacks& progress = {});
/// Concatenates the `nshards` shards <split>_<i>_<n>.<name> into <split>.<name> (atomically),
/// then verifies them when the rate is known (label_rate or the teacher's; else no files).
LabelVerification merge_label_shards(LabelOptions options, const ProgressCallbacks& progress = {});
/// Verifies an existing label set <split>.<name> against the manifest (loads a kmeans-layer
/// teacher's model for its rate unless label_rate is given).
LabelVerification verify_label_set(LabelOptions options);

}  // namespace musefm
