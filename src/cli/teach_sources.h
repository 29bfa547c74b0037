// Internal: the teachers behind `musefm teach`, each as a Teacher: the features k-means is
// fitted on (k-means teachers), and the label sequences of one waveform.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace musefm::cli {

struct TeachOptions {
  std::string manifest, out_dir, teacher, kmeans_path, model, codec, device = "cpu", split;
  std::string label_name;  // "" = the teacher's own ("km", "chroma"); single-stream teachers
  int k = 0;             // 0: 100 (kmeans-mfcc) or 500 (kmeans-layer)
  int layer = 6;         // kmeans-layer: hidden state index
  double percent = 0.1;  // fraction of entries the k-means is fitted on
  double bandwidth = 6.0;
  int sample_rate = 24000;
  int max_frames_per_entry = 0;  // k-means fit: frames kept per entry (0 = all)
  uint64_t seed = 0;
  int shard = -1, nshards = 0;  // -1 / 0: from RANK / WORLD_SIZE, else 0 / 1
  int threads = 0;
  bool overwrite = false, verify = false, merge = false;
  double tolerance_s = 0.1;
  double label_rate = 0;  // --verify without a teacher: the rate to check against
};

struct Teacher {
  std::vector<std::string> names;  // label files: "km", "bestrq_0", "encodec_0", ...
  int64_t k = 0;                   // ids per label file: 0..k-1
  double rate = 0;                 // labels per second
  int sample_rate = 24000;         // rate of the waveforms it reads
  bool needs_kmeans = false;
  // k-means teachers: frames [T, D] of one waveform, fitted on before labelling.
  std::function<at::Tensor(const at::Tensor&)> features;
  // Label ids [names.size(), T] (int64) of one waveform [L].
  std::function<at::Tensor(const at::Tensor&)> label;
};

/// The teacher `o.teacher` names (kmeans-mfcc | kmeans-chroma | kmeans-layer | bestrq | encodec), with its
/// model loaded; the k-means teachers label with `set_kmeans` once fitted or loaded.
Teacher make_teacher(const TeachOptions& o);
void set_kmeans(Teacher& t, const std::string& kmeans_path, bool k_given);

/// Label rate of a teacher without loading it (for --verify): 0 when it depends on a model.
double teacher_rate(const std::string& teacher);
/// Label file names a teacher writes, e.g. {"encodec_0", ..., "encodec_7"} at 6 kbps.
std::vector<std::string> teacher_label_names(const TeachOptions& o);

}  // namespace musefm::cli
