// Pretraining data: label indexes, split verification, the global batch plan and masks.
#include "train/data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include <ATen/ATen.h>

#include "model/family.h"
#include "musefm/audio.h"
#include "musefm/teachers.h"

namespace musefm::train_detail {
namespace fs = std::filesystem;

uint64_t mix_seed(uint64_t seed, std::initializer_list<uint64_t> parts) {
  auto step = [](uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  uint64_t h = step(seed);
  for (uint64_t p : parts) h = step(h ^ step(p));
  return h;
}

// ---- labels --------------------------------------------------------------------------------

LabelIndex::LabelIndex(std::string name, std::string path, const std::string& dict_path)
    : name_(std::move(name)), path_(std::move(path)) {
  std::ifstream dict(dict_path);
  MUSEFM_CHECK(dict.good(), "cannot open dictionary '", dict_path, "'");
  std::string line;
  while (std::getline(dict, line)) {
    std::istringstream ss(line);
    std::string sym;
    if (!(ss >> sym)) continue;
    identity_ = identity_ && sym == std::to_string(k_);
    symbols_.emplace(sym, k_++);
  }
  MUSEFM_CHECK(k_ > 0, "dictionary '", dict_path, "' is empty");
  std::ifstream in(path_, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot open label file '", path_, "'");
  int64_t at = 0;
  while (std::getline(in, line)) {
    offsets_.push_back(at);
    int32_t n = 0;
    bool in_tok = false;
    for (char ch : line) {
      const bool space = ch == ' ' || ch == '\t' || ch == '\r';
      if (!space && !in_tok) ++n;
      in_tok = !space;
    }
    counts_.push_back(n);
    at += int64_t(line.size()) + 1;
  }
}

std::vector<int64_t> LabelIndex::read(int64_t line, int64_t from, int64_t n) const {
  std::ifstream in(path_, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot open label file '", path_, "'");
  in.seekg(offsets_[size_t(line)]);
  std::string text;
  std::getline(in, text);
  std::istringstream ss(text);
  std::vector<int64_t> out;
  out.reserve(size_t(n));
  std::string tok;
  for (int64_t i = 0; ss >> tok && int64_t(out.size()) < n; ++i) {
    if (i < from) continue;
    int64_t id = -1;
    if (identity_) {
      char* end = nullptr;
      const long long v = std::strtoll(tok.c_str(), &end, 10);
      if (end && *end == '\0' && v >= 0 && v < k_) id = v;
    } else if (auto it = symbols_.find(tok); it != symbols_.end()) {
      id = it->second;
    }
    MUSEFM_CHECK(id >= 0, path_, ":", line + 1, ": label '", tok, "' is not in the dictionary");
    out.push_back(id);
  }
  MUSEFM_CHECK(int64_t(out.size()) == n, path_, ":", line + 1, ": expected at least ", from + n,
               " labels, found ", from + int64_t(out.size()),
               " (the file changed during training?)");
  return out;
}

// ---- split ---------------------------------------------------------------------------------

Split open_split(const PretrainConfig& c, const std::string& split, Collective& group) {
  MUSEFM_CHECK(!c.data.manifest_dir.empty(),
               "pretrain: data.manifest_dir is not set (the folder with <split>.tsv; --data DIR)");
  const fs::path mdir = c.data.manifest_dir;
  const fs::path ldir = c.data.labels_dir.empty() ? mdir : fs::path(c.data.labels_dir);
  Split s;
  s.name = split;
  s.manifest_path = (mdir / (split + ".tsv")).string();
  MUSEFM_CHECK(fs::exists(s.manifest_path), "pretrain: manifest '", s.manifest_path,
               "' does not exist (data.manifest_dir / data.", split, "_split)");
  s.entries = read_manifest(s.manifest_path);
  std::vector<std::string> problems;
  for (const std::string& name : c.data.labels) {
    const std::string label = (ldir / (split + "." + name)).string();
    const std::string dict = (ldir / ("dict." + name + ".txt")).string();
    if (!fs::exists(label) || !fs::exists(dict)) {
      problems.push_back("label set '" + name + "': " + (fs::exists(label) ? dict : label) +
                         " does not exist (make it with musefm teach)");
      continue;
    }
    const LabelCheck check = verify_labels(s.manifest_path, label, dict, c.data.label_rate,
                                           c.data.label_tolerance_s, c.model.sample_rate);
    for (const auto& p : check.problems) problems.push_back(p);
    if (check.ok()) s.labels.emplace_back(name, label, dict);
  }
  if (!problems.empty()) {
    std::string msg;
    for (size_t i = 0; i < problems.size() && i < 12; ++i) msg += "\n  " + problems[i];
    if (problems.size() > 12)
      msg += "\n  ... and " + std::to_string(problems.size() - 12) + " more";
    MUSEFM_FAIL("pretrain: the labels of split '", split, "' fail verification (", problems.size(),
                " problems); nothing was trained:", msg);
  }
  // Audio headers, shared out over the ranks; every rank learns which entries failed.
  const int64_t n = int64_t(s.entries.size());
  at::Tensor bad = at::zeros({n}, at::kInt);
  std::map<int64_t, std::string> reasons;
  for (int64_t i = group.rank(); i < n; i += group.world_size()) {
    try {
      const AudioInfo info = probe_audio(s.entries[size_t(i)].path);
      MUSEFM_CHECK(info.frames > 0, "no samples");
    } catch (const std::exception& e) {
      bad[i] = 1;
      reasons[i] = e.what();
    }
  }
  std::vector<at::Tensor> t{bad};
  group.all_reduce_sum(t);
  const auto* flag = bad.data_ptr<int>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& e = s.entries[size_t(i)];
    if (flag[i]) {
      s.left_out.emplace_back(
          i, reasons.count(i) ? reasons[i] : "unreadable audio header (checked by another rank)");
    } else if (e.num_samples < c.data.min_sample_size) {
      s.left_out.emplace_back(i, "shorter than data.min_sample_size (" +
                                     std::to_string(e.num_samples) + " < " +
                                     std::to_string(c.data.min_sample_size) + " samples)");
    } else {
      s.usable.push_back(i);
    }
  }
  MUSEFM_CHECK(!s.usable.empty(), "pretrain: no entry of '", s.manifest_path, "' is usable (",
               s.left_out.size(), " left out: ",
               s.left_out.empty() ? std::string("empty manifest") : s.left_out[0].second, ")");
  return s;
}

// ---- masks ---------------------------------------------------------------------------------

std::vector<uint8_t> span_mask(int64_t frames, double mask_prob, int mask_length, int min_masks,
                               uint64_t key) {
  std::vector<uint8_t> m(size_t(frames), 0);
  if (frames <= 0 || (mask_prob <= 0 && min_masks <= 0)) return m;
  std::mt19937_64 rng(key);
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  int64_t num = std::max<int64_t>(min_masks, int64_t(mask_prob * frames / mask_length + u));
  int64_t len = mask_length;
  if (frames - len <= num) len = std::max<int64_t>(frames - num - 1, 0);
  const int64_t starts = std::max<int64_t>(frames - len, 1);
  num = std::min(num, starts);
  // num distinct starts in [0, starts): a partial Fisher-Yates shuffle.
  std::vector<int64_t> pool(static_cast<size_t>(starts));
  std::iota(pool.begin(), pool.end(), 0);
  for (int64_t i = 0; i < num; ++i) {
    const int64_t j = i + int64_t(rng() % uint64_t(starts - i));
    std::swap(pool[size_t(i)], pool[size_t(j)]);
    for (int64_t f = pool[size_t(i)];
         f < std::min(frames, pool[size_t(i)] + std::max<int64_t>(len, 1)); ++f)
      m[size_t(f)] = 1;
  }
  return m;
}

std::vector<uint8_t> noise_chunks(int64_t samples, int64_t chunk_samples, double prob,
                                  uint64_t key) {
  std::mt19937_64 rng(key);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> m(size_t(samples / chunk_samples), 0);
  for (auto& v : m) v = u(rng) < prob;
  return m;
}

// ---- plan ----------------------------------------------------------------------------------

BatchPlanner::BatchPlanner(const PretrainConfig& c, const Split& split)
    : c_(c), split_(split), salt_(mix_seed(c.run.seed, {0x5eed})) {}

int64_t BatchPlanner::frames_for(int64_t samples) const {
  return model_detail::family_for(c_.model).num_frames(c_.model, samples);
}

const std::vector<std::vector<int64_t>>& BatchPlanner::epoch(int64_t e) const {
  if (e == cached_epoch_) return cached_;
  std::vector<int64_t> order = split_.usable;
  std::mt19937_64 rng(mix_seed(salt_, {1, uint64_t(e)}));
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t budget = c_.data.max_tokens;
  const int64_t max_items =
      c_.data.max_batch_items > 0 ? int64_t(c_.data.max_batch_items) : INT64_MAX;
  cached_.clear();
  std::vector<int64_t> cur;
  int64_t shortest = INT64_MAX;
  for (int64_t i : order) {
    const int64_t len = split_.entries[size_t(i)].num_samples;
    const int64_t crop = std::min(c_.data.max_sample_size, std::min(shortest, len));
    if (!cur.empty() &&
        (int64_t(cur.size() + 1) * crop > budget || int64_t(cur.size()) + 1 > max_items)) {
      cached_.push_back(std::move(cur));
      cur.clear();
      shortest = INT64_MAX;
    }
    cur.push_back(i);
    shortest = std::min(shortest, len);
  }
  if (!cur.empty()) cached_.push_back(std::move(cur));
  cached_epoch_ = e;
  return cached_;
}

MicroBatch BatchPlanner::plan(int64_t e, int64_t index) const {
  MicroBatch mb;
  mb.epoch = e;
  mb.index = index;
  mb.items = epoch(e).at(size_t(index));
  int64_t shortest = INT64_MAX;
  for (int64_t i : mb.items) shortest = std::min(shortest, split_.entries[size_t(i)].num_samples);
  mb.crop = std::min(c_.data.max_sample_size, shortest);
  const double sr = c_.model.sample_rate, rate = c_.data.label_rate;
  const double ratio = rate / c_.model.frame_rate();
  mb.frames = frames_for(mb.crop);
  for (size_t j = 0; j < mb.items.size(); ++j) {
    const int64_t item = mb.items[j];
    const int64_t len = split_.entries[size_t(item)].num_samples;
    std::mt19937_64 rng(mix_seed(salt_, {2, uint64_t(e), uint64_t(index), j}));
    const int64_t start = len > mb.crop ? int64_t(rng() % uint64_t(len - mb.crop + 1)) : 0;
    mb.starts.push_back(start);
    const int64_t label_start = std::llround(start * rate / sr);
    for (const LabelIndex& l : split_.labels) {
      const int64_t avail = l.count(item) - label_start;
      const int64_t t = avail <= 0 ? 0 : int64_t(std::floor((avail - 1) / ratio + 1e-9)) + 1;
      mb.frames = std::min(mb.frames, t);
    }
  }
  MUSEFM_CHECK(mb.frames >= 1, "pretrain: micro-batch ", index, " of epoch ", e,
               " has no frame with labels for every item (crop of ", mb.crop,
               " samples); are the label files shorter than the audio?");
  const int64_t chunk = std::llround(c_.objective.noise_chunk_s * sr);
  const int64_t tokens = std::llround(c_.objective.noise_chunk_s * c_.model.frame_rate());
  for (size_t j = 0; j < mb.items.size(); ++j) {
    const uint64_t key = mix_seed(salt_, {3, uint64_t(e), uint64_t(index), j});
    std::vector<uint8_t> m;
    if (c_.objective.masking == Masking::Span) {
      m = span_mask(mb.frames, c_.objective.mask_prob, c_.objective.mask_length,
                    c_.objective.min_masks, key);
      mb.noise.emplace_back();
    } else {
      auto chunks = noise_chunks(mb.crop, chunk, c_.objective.noise_prob, key);
      m.assign(size_t(mb.frames), 0);
      for (size_t k = 0; k < chunks.size(); ++k)
        if (chunks[k])
          for (int64_t f = int64_t(k) * tokens; f < std::min(mb.frames, int64_t(k + 1) * tokens);
               ++f)
            m[size_t(f)] = 1;
      mb.noise.push_back(std::move(chunks));
    }
    for (uint8_t v : m) mb.masked += v;
    mb.masks.push_back(std::move(m));
  }
  return mb;
}

}  // namespace musefm::train_detail
