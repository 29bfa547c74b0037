// Loader: background threads that decode (through an LRU cache), crop, mix and noise-mask one
// rank's share of each planned micro-batch, delivered in plan order.
#include <ATen/ATen.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <random>
#include <unordered_map>

#include "musefm/audio.h"
#include "train/data.h"

namespace musefm::train_detail {

class AudioCache {
 public:
  AudioCache(int sample_rate, int64_t budget_bytes) : rate_(sample_rate), budget_(budget_bytes) {}

  /// The whole file at the model rate, mono; decoded once while it stays in the cache.
  std::shared_ptr<const std::vector<float>> get(const std::string& path) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = map_.find(path);
      if (it != map_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.second);
        return it->second.first;
      }
    }
    AudioLoadOptions o;
    o.target_rate = rate_;
    auto data = std::make_shared<const std::vector<float>>(load_audio(path, o).samples);
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t bytes = int64_t(data->size() * sizeof(float));
    if (bytes > budget_ || map_.count(path)) return data;
    lru_.push_front(path);
    map_[path] = {data, lru_.begin()};
    used_ += bytes;
    while (used_ > budget_ && !lru_.empty()) {
      auto& victim = map_.at(lru_.back());
      used_ -= int64_t(victim.first->size() * sizeof(float));
      map_.erase(lru_.back());
      lru_.pop_back();
    }
    return data;
  }

 private:
  int rate_;
  int64_t budget_, used_ = 0;
  std::mutex mu_;
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::pair<std::shared_ptr<const std::vector<float>>,
                                            std::list<std::string>::iterator>>
      map_;
};

Loader::Loader(const PretrainConfig& c, const Split& split, const BatchPlanner& planner, int rank,
               int world_size, int accumulate, int64_t epoch, int64_t index)
    : c_(c),
      split_(split),
      planner_(planner),
      rank_(rank),
      world_(world_size),
      per_update_(world_size * accumulate),
      epoch_(epoch),
      index_(index),
      ahead_epoch_(epoch),
      ahead_index_(index),
      cache_(std::make_shared<AudioCache>(c.model.sample_rate, c.data.audio_cache_mb << 20)) {
  pool_ = std::make_unique<core_detail::TaskPool>(c.data.loader_threads);
}

Loader::~Loader() = default;  // the pool drops queued loads of an abandoned loader

void Loader::advance(int64_t& epoch, int64_t& index) const {
  if (++index >= int64_t(planner_.epoch(epoch).size())) {
    ++epoch;
    index = 0;
  }
}

// Plans micro-batches ahead and starts loading this rank's: at least one whole update, and
// data.prefetch of this rank's micro-batches.
void Loader::fill() {
  const auto own_ahead = [&] {
    int64_t n = 0;
    for (const auto& e : queue_) n += e.mine;
    return n;
  };
  while (int64_t(queue_.size()) < per_update_ || own_ahead() < c_.data.prefetch) {
    Entry e;
    e.plan = planner_.plan(ahead_epoch_, ahead_index_);
    e.mine = planned_ % per_update_ % world_ == rank_;
    if (e.mine) {
      e.batch = pool_->submit([this, mb = e.plan] { return load(mb); });
    }
    queue_.push_back(std::move(e));
    ++planned_;
    advance(ahead_epoch_, ahead_index_);
  }
}

Update Loader::next() {
  fill();
  Update u;
  for (int j = 0; j < per_update_; ++j) {
    Entry e = std::move(queue_.front());
    queue_.pop_front();
    if (e.mine) {
      u.mine.push_back(j);
      u.batches.push_back(e.batch.get());
    }
    u.plans.push_back(std::move(e.plan));
    advance(epoch_, index_);
  }
  fill();
  return u;
}

namespace {
// The label targets of each item ([rows, T] int64 per label set) and the mask ([rows, T]
// bool) of a micro-batch: label frame of encoder frame i = label_start + floor(i * label_rate /
// frame_rate).
void label_targets(const PretrainConfig& c, const Split& split, const MicroBatch& mb, Batch& b) {
  const auto& d = c.data;
  const int64_t rows = int64_t(mb.items.size()), T = mb.frames;
  const double ratio = d.label_rate / c.model.frame_rate();
  for (const LabelIndex& l : split.labels) {
    at::Tensor t = at::empty({rows, T}, at::kLong);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t item = mb.items[size_t(r)];
      const int64_t start = std::llround(mb.starts[size_t(r)] * d.label_rate / c.model.sample_rate);
      const int64_t need = int64_t(std::floor((T - 1) * ratio + 1e-9)) + 1;
      const std::vector<int64_t> ids = l.read(item, start, need);
      int64_t* p = t[r].data_ptr<int64_t>();
      for (int64_t i = 0; i < T; ++i) p[i] = ids[size_t(std::floor(i * ratio + 1e-9))];
    }
    b.targets.push_back(t);
  }
  at::Tensor mask = at::empty({rows, T}, at::kBool);
  for (int64_t r = 0; r < rows; ++r) {
    const auto& m = mb.masks[size_t(r)];
    bool* p = mask[r].data_ptr<bool>();
    for (int64_t i = 0; i < T; ++i) p[i] = m[size_t(i)] != 0;
  }
  b.mask = mask;
}
}  // namespace

Batch Loader::load(const MicroBatch& mb) const {
  Batch b;
  b.plan = mb;
  const int64_t n = int64_t(mb.items.size()), L = mb.crop, rows = n;
  // Crops of the items, by position (mixup sources are items of the same micro-batch).
  std::map<int64_t, std::vector<float>> crops;
  auto crop_of = [&](int64_t j) -> const std::vector<float>& {
    auto it = crops.find(j);
    if (it != crops.end()) return it->second;
    std::vector<float> out(size_t(L), 0.0f);
    const auto& e = split_.entries[size_t(mb.items[size_t(j)])];
    try {
      auto audio = cache_->get(e.path);
      const int64_t s = mb.starts[size_t(j)];
      const int64_t m = std::clamp<int64_t>(int64_t(audio->size()) - s, 0, L);
      std::copy(audio->begin() + s, audio->begin() + s + m, out.begin());
    } catch (const std::exception& ex) {
      b.failures.push_back(e.path + ": " + ex.what());
    }
    return crops.emplace(j, std::move(out)).first->second;
  };
  at::Tensor clean = at::empty({rows, L}, at::kFloat);
  for (int64_t r = 0; r < rows; ++r) {
    const auto& v = crop_of(r);
    std::copy(v.begin(), v.end(), clean[r].data_ptr<float>());
  }
  at::Tensor audio = clean.clone();
  const auto& d = c_.data;
  const uint64_t salt = mix_seed(c_.run.seed, {0x5eed});
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t j = r;
    float* out = audio[r].data_ptr<float>();
    std::mt19937_64 rng(mix_seed(salt, {4, uint64_t(mb.epoch), uint64_t(mb.index), uint64_t(j)}));
    std::uniform_real_distribution<double> u(0, 1);
    if (n > 1 && u(rng) < d.mixup_prob) {  // MERT's in-batch noise: segments of other items
      const int segments = 1 + int(rng() % uint64_t(d.mixup_max_segments));
      for (int s = 0; s < segments; ++s) {
        int64_t src = int64_t(rng() % uint64_t(n - 1));
        if (src >= j) ++src;
        const int64_t len =
            std::min(L, d.mixup_min_length +
                            int64_t(rng() % uint64_t(d.mixup_max_length - d.mixup_min_length + 1)));
        const int64_t at = int64_t(rng() % uint64_t(L - len + 1));
        const int64_t from = int64_t(rng() % uint64_t(L - len + 1));
        const auto& noise = crop_of(src);
        for (int64_t k = 0; k < len; ++k)
          out[at + k] += float(d.mixup_volume) * noise[size_t(from + k)];
      }
    }
    if (!mb.noise[size_t(j)].empty()) {  // MusicFM: chunks replaced by N(0, std^2)
      std::mt19937_64 nrng(
          mix_seed(salt, {5, uint64_t(mb.epoch), uint64_t(mb.index), uint64_t(j)}));
      std::normal_distribution<float> g(0.0f, float(c_.objective.noise_std));
      const int64_t chunk = std::llround(c_.objective.noise_chunk_s * c_.model.sample_rate);
      for (size_t k = 0; k < mb.noise[size_t(j)].size(); ++k)
        if (mb.noise[size_t(j)][k])
          for (int64_t t = int64_t(k) * chunk; t < int64_t(k + 1) * chunk; ++t) out[t] = g(nrng);
    }
  }
  b.clean = clean;
  b.audio = audio;
  label_targets(c_, split_, mb, b);
  return b;
}

}  // namespace musefm::train_detail
