// Probe features: mean-pooled hidden states of every layer (or MFCC / chroma statistics) per
// clip or window, and their on-disk cache (layout and keys in include/musefm/probe.h).
#include <ATen/ATen.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "audio/soxr_resample.h"
#include "core/hash.h"
#include "musefm/audio.h"
#include "musefm/default_model.h"
#include "musefm/extract.h"
#include "musefm/features.h"
#include "musefm/probe.h"
#include "musefm/safetensors.h"

namespace musefm {
namespace {
namespace fs = std::filesystem;

// Cache format version: bump when the meaning of cached features changes.
constexpr const char* kCacheFormat = "musefm-probe-features-2";  // 2: soxr_hq resampling
// Seconds per forward pass of a model (ExtractConfig default; longer clips are stitched).
constexpr double kExtractWindowS = 30.0;
// HuBERT iteration-1 MFCCs are computed at 16 kHz (fairseq dump_mfcc_feature.py).
constexpr int kMfccRate = 16000;

using Fnv = detail::Fnv1a64;  // cache keys and fingerprints

// Size and modification time (ns) of a file; throws naming it.
std::pair<uint64_t, uint64_t> size_and_mtime(const std::string& path) {
  struct stat st {};
  MUSEFM_CHECK(::stat(path.c_str(), &st) == 0, "cannot stat '", path, "'");
  return {uint64_t(st.st_size), uint64_t(st.st_mtim.tv_sec) * 1000000000ull + st.st_mtim.tv_nsec};
}

std::string read_bytes(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot read '", path, "'");
  std::string out(max_bytes, '\0');
  in.read(out.data(), std::streamsize(max_bytes));
  out.resize(size_t(in.gcount()));
  return out;
}

// "<dir name>-<fnv of config.json, weights size/mtime/header>"; "<dir name>@bf16-<...>" for
// another precision than fp32 and "...@mean+std-<...>" for that pooling (fp32 mean-pooled keys
// stay as they were).
std::string model_key(const std::string& dir, Precision precision, Pool pool) {
  const std::string cfg = (fs::path(dir) / "config.json").string();
  const std::string weights = (fs::path(dir) / "model.safetensors").string();
  Fnv h;
  h.add(read_bytes(cfg, size_t(1) << 26));
  const auto [size, mtime] = size_and_mtime(weights);
  h.add_u64(size);
  h.add_u64(mtime);
  const std::string head = read_bytes(weights, 8);
  uint64_t n = 0;
  for (size_t i = 0; i < head.size(); ++i) n |= uint64_t(uint8_t(head[i])) << (8 * i);
  h.add(read_bytes(weights, size_t(std::min<uint64_t>(8 + n, uint64_t(100) << 20))));
  if (precision != Precision::Fp32) h.add(to_string(precision));
  if (pool != Pool::Mean) h.add(to_string(pool));
  std::string name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty() || name == ".") name = fs::absolute(dir).lexically_normal().filename().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (precision != Precision::Fp32) name += "@" + to_string(precision);
  if (pool != Pool::Mean) name += "@" + to_string(pool);
  return name + "-" + h.hex();
}

// Start and length (samples) of each window of a clip of `n` samples.
std::vector<std::pair<int64_t, int64_t>> windows_of(const ProbeTask& t, int64_t n, int rate) {
  if (t.mode != "window") return {{0, n}};
  const int64_t w = std::max<int64_t>(1, std::llround(t.window_s * rate));
  const int64_t hop = std::max<int64_t>(1, std::llround(t.hop_s * rate));
  if (n <= w) return {{0, n}};
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t s = 0; s + w <= n; s += hop) out.emplace_back(s, w);
  return out;
}

// Rows must map onto the split's clips, every clip at least once.
void check_rows(const ProbeFeatures& f, const std::string& what) {
  MUSEFM_CHECK(f.x.dim() == 3 && int64_t(f.clip.size()) == f.x.size(0), what,
               ": features must be [N, L, H] with one clip index per row");
  std::vector<char> seen(size_t(f.num_clips), 0);
  for (int64_t c : f.clip) {
    MUSEFM_CHECK(c >= 0 && c < f.num_clips, what, ": clip index ", c, " out of range [0, ",
                 f.num_clips, ")");
    MUSEFM_CHECK(!f.failed.count(c), what, ": clip ", c, " is listed as failed but has a row");
    seen[size_t(c)] = 1;
  }
  for (size_t c = 0; c < seen.size(); ++c)
    MUSEFM_CHECK(seen[c] || f.failed.count(int64_t(c)), what, ": clip ", c, " has no feature row");
}

at::Tensor mean_std(const at::Tensor& frames, int64_t time_dim) {
  return at::cat({frames.mean(time_dim), frames.std(time_dim, /*unbiased=*/false)}, 0);
}
}  // namespace

struct FeatureSource::Impl {
  std::string spec, name, key, kind, device;
  std::optional<Extractor> extractor;        // pooled hidden states (mean or mean+std)
  std::optional<Extractor> frame_extractor;  // every frame (beat tasks)
  std::string features_dir;
  int rate = 0;
  double frame_rate = 0;  // frames per second of the frame-level features

  // Frames of one window of audio at `rate`: [T, 39] MFCC + deltas or [T, 12] chroma.
  at::Tensor baseline_frames(const at::Tensor& wav) const {
    if (name == "mfcc") {
      static const KaldiMfcc mfcc(KaldiMfccConfig::hubert(kMfccRate));
      MUSEFM_CHECK(mfcc.num_frames(wav.size(0)) >= 2, "too short for two MFCC frames (",
                   wav.size(0), " samples at ", rate, " Hz)");
      return mfcc(wav);
    }
    static const Chroma chroma{ChromaConfig{}};
    return chroma(wav).t();
  }

  // One window of audio at `rate` -> [L, H] (mean-pooled) or, `frames`, [T, L, H].
  at::Tensor encode(const at::Tensor& wav, bool frames) const {
    if (extractor) {
      const at::Tensor x = (frames ? *frame_extractor : *extractor).extract(wav).to(at::kCPU);
      return frames ? x.permute({1, 0, 2}).contiguous() : x.contiguous();
    }
    const at::Tensor f = baseline_frames(wav);
    return frames ? f.unsqueeze(1).contiguous() : mean_std(f, 0).unsqueeze(0).contiguous();
  }

  ProbeFeatures precomputed(const ProbeTask& task, const std::string& split) const {
    const std::string path =
        (fs::path(features_dir) / task.name / (split + ".safetensors")).string();
    const auto f = SafeTensorsFile::open(path);
    MUSEFM_CHECK(f.contains("features"), path, ": no tensor 'features' [N, L, H]");
    ProbeFeatures out;
    out.x = f.get("features").to(at::kFloat).contiguous().clone();
    MUSEFM_CHECK(out.x.dim() == 3, path, ": 'features' must be [N, L, H], got ", out.x.sizes());
    out.num_clips = int64_t(task.split(split).items.size());
    if (f.contains("clip")) {
      at::Tensor c = f.get("clip").to(at::kLong).contiguous();
      MUSEFM_CHECK(c.dim() == 1 && c.size(0) == out.x.size(0), path, ": 'clip' must be [",
                   out.x.size(0), "], got ", c.sizes());
      out.clip.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    } else {
      MUSEFM_CHECK(out.x.size(0) == out.num_clips, path, ": ", out.x.size(0), " rows but ",
                   task.split(split).file, " lists ", out.num_clips,
                   " clips (add a 'clip' tensor for window rows)");
      for (int64_t i = 0; i < out.num_clips; ++i) out.clip.push_back(i);
    }
    auto rate = f.metadata().find("frame_rate");  // frame rows (beat tasks)
    if (rate != f.metadata().end()) {
      try {
        out.frame_rate = std::stod(rate->second);
      } catch (const std::exception&) {
        out.frame_rate = -1;
      }
      MUSEFM_CHECK(std::isfinite(out.frame_rate) && out.frame_rate > 0, path,
                   ": metadata frame_rate '", rate->second, "' is not a positive number");
    }
    check_rows(out, path);
    return out;
  }
};

FeatureSource FeatureSource::open(const std::string& spec, const std::string& device, int batch,
                                  Precision precision, Pool pool) {
  MUSEFM_CHECK(batch >= 1, "feature batch must be >= 1, got ", batch);
  MUSEFM_CHECK(pool != Pool::None,
               "probe features are pooled per clip or window: pool must be mean or mean+std");
  auto impl = std::make_shared<Impl>();
  impl->spec = spec;
  impl->device = device;
  if (spec == "mfcc" || spec == "chroma") {
    impl->kind = "baseline";
    impl->name = spec;
    impl->rate = spec == "mfcc" ? kMfccRate : ChromaConfig{}.sample_rate;
    impl->frame_rate = spec == "mfcc"
                           ? frame_rate(KaldiMfccConfig::hubert(kMfccRate))
                           : double(ChromaConfig{}.sample_rate) / ChromaConfig{}.hop_length;
    Fnv h;
    h.add(spec == "mfcc" ? KaldiMfccConfig::hubert(kMfccRate).to_json() : ChromaConfig{}.to_json());
    h.add("mean+std");
    impl->key = spec + "-" + h.hex();
  } else if (spec.rfind("features:", 0) == 0) {
    impl->kind = "features";
    impl->features_dir = spec.substr(9);
    MUSEFM_CHECK(fs::is_directory(impl->features_dir), "features: '", impl->features_dir,
                 "' is not a folder");
    impl->name = fs::path(impl->features_dir).lexically_normal().filename().string();
    if (impl->name.empty()) impl->name = impl->features_dir;
  } else {
    // "default": the shipped model (throws naming where it looked and how to rebuild it)
    const std::string dir = spec == "default" ? default_model_dir() : spec;
    MUSEFM_CHECK(fs::is_directory(dir), "model '", spec,
                 "' is not a model dir (config.json + model.safetensors), default, mfcc, chroma "
                 "or features:DIR");
    impl->kind = "model";
    impl->key = model_key(dir, precision, pool);
    impl->name = impl->key.substr(0, impl->key.size() - 17);
    ExtractConfig ec;
    ec.layers = "all";
    ec.pool = pool;
    ec.window_s = kExtractWindowS;
    ec.batch = batch;
    ec.precision = precision;
    impl->extractor.emplace(Encoder::load(dir, device), ec);
    impl->rate = impl->extractor->encoder().config().sample_rate;
    ec.pool = Pool::None;
    ec.batch = 1;
    impl->frame_extractor.emplace(impl->extractor->encoder(), ec);
    impl->frame_rate = double(impl->rate) / double(impl->extractor->frame_hop());
  }
  FeatureSource s;
  s.impl_ = impl;
  return s;
}

const std::string& FeatureSource::spec() const { return impl_->spec; }
const std::string& FeatureSource::name() const { return impl_->name; }
const std::string& FeatureSource::key() const { return impl_->key; }
const std::string& FeatureSource::kind() const { return impl_->kind; }

ProbeFeatures FeatureSource::compute(const ProbeTask& task, const std::string& split_name,
                                     const ProbeProgress& progress) const {
  const Impl& m = *impl_;
  if (m.kind == "features") return m.precomputed(task, split_name);
  const ProbeSplit& split = task.split(split_name);
  const int64_t n = int64_t(split.items.size());
  ProbeFeatures out;
  out.num_clips = n;
  std::vector<at::Tensor> rows;
  AudioLoadOptions opt;
  opt.target_rate = 0;  // decoded at the file's rate, resampled below as librosa.load does
  const int64_t batch = m.extractor ? m.extractor->config().batch : 1;
  const auto fail = [&](int64_t i, const std::string& why) {
    const ProbeItem& item = split.items[size_t(i)];
    out.failed[i] = split.file + ":" + std::to_string(item.line) + ": '" + item.audio + "': " + why;
  };
  const bool frames = task.type == ProbeTaskType::Beat;  // one row per frame of each clip
  if (frames) out.frame_rate = m.frame_rate;
  const auto encode = [&m, frames](const std::vector<at::Tensor>& w) {
    std::vector<at::Tensor> r;
    if (m.extractor && !frames) {
      for (auto& x : m.extractor->extract(w)) r.push_back(x.to(at::kCPU).contiguous());
    } else {
      for (const auto& x : w) r.push_back(m.encode(x, frames));
    }
    return r;
  };
  for (int64_t first = 0; first < n; first += batch) {
    const int64_t count = std::min(batch, n - first);
    std::vector<at::Tensor> windows;
    std::vector<int64_t> owner;
    for (int64_t i = first; i < first + count; ++i) {
      try {
        const Audio a = load_audio(split.items[size_t(i)].audio, opt);
        const std::vector<float> y = features_detail::soxr_resample(
            a.samples.data(), int64_t(a.samples.size()), a.sample_rate, m.rate);
        const at::Tensor wav = at::tensor(y, at::kFloat);
        for (const auto& [start, len] : windows_of(task, wav.size(0), m.rate)) {
          windows.push_back(wav.narrow(0, start, len));
          owner.push_back(i);
        }
      } catch (const Error& e) {
        fail(i, e.what());
      }
    }
    std::vector<at::Tensor> encoded;
    try {
      encoded = encode(windows);
    } catch (const Error&) {
      encoded.assign(windows.size(), at::Tensor());
      for (size_t k = 0; k < windows.size(); ++k) {  // find the clips that fail
        try {
          encoded[k] = encode({windows[k]}).at(0);
        } catch (const Error& e) {
          if (!out.failed.count(owner[k])) fail(owner[k], e.what());
        }
      }
    }
    for (size_t k = 0; k < windows.size(); ++k) {
      if (out.failed.count(owner[k])) continue;  // every window of a failed clip is dropped
      const int64_t count_rows = frames ? encoded[k].size(0) : 1;
      rows.push_back(std::move(encoded[k]));
      out.clip.insert(out.clip.end(), size_t(count_rows), owner[k]);
    }
    if (progress) progress(first + count, n, split.items[size_t(first + count - 1)].audio);
  }
  MUSEFM_CHECK(!rows.empty(), split.file, ": no clip of the ", split_name,
               " split could be used; the first: ",
               out.failed.empty() ? std::string("none") : out.failed.begin()->second);
  out.x = (frames ? at::cat(rows, 0) : at::stack(rows, 0)).to(at::kFloat).contiguous();
  return out;
}

ProbeFeatures probe_features(const FeatureSource& source, const ProbeTask& task,
                             const std::string& split_name, const std::string& cache_dir,
                             const ProbeProgress& progress, bool* from_cache) {
  if (from_cache) *from_cache = false;
  const ProbeSplit& split = task.split(split_name);
  if (cache_dir.empty() || source.key().empty()) {
    ProbeFeatures f = source.compute(task, split_name, progress);
    check_rows(f, source.name() + " features of " + task.name + "/" + split_name);
    return f;
  }
  Fnv fp;
  fp.add(kCacheFormat);
  fp.add(source.key());
  fp.add(task.mode);
  fp.add(task.type == ProbeTaskType::Beat ? "frames" : "pooled");
  fp.add_u64(uint64_t(std::llround(task.window_s * 1e6)));
  fp.add_u64(uint64_t(std::llround(task.hop_s * 1e6)));
  fp.add_u64(uint64_t(std::llround(kExtractWindowS * 1e6)));
  for (const auto& item : split.items) {
    fp.add(fs::absolute(item.audio).lexically_normal().string());
    const auto [size, mtime] = size_and_mtime(item.audio);
    fp.add_u64(size);
    fp.add_u64(mtime);
  }
  const std::string fingerprint = fp.hex();
  Fnv slot;
  slot.add(fs::absolute(task.dir).lexically_normal().string());
  const fs::path dir = fs::path(cache_dir) / source.key() / (task.name + "-" + slot.hex(8));
  const std::string path = (dir / (split_name + ".safetensors")).string();
  std::error_code ec;
  if (fs::exists(path, ec)) {
    try {
      const auto f = SafeTensorsFile::open(path);
      auto it = f.metadata().find("fingerprint");
      if (it != f.metadata().end() && it->second == fingerprint) {
        ProbeFeatures out;
        out.x = f.get("features").to(at::kFloat).clone();
        const at::Tensor c = f.get("clip").to(at::kLong).contiguous();
        out.clip.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
        out.num_clips = int64_t(split.items.size());
        auto rate = f.metadata().find("frame_rate");
        if (rate != f.metadata().end()) out.frame_rate = std::stod(rate->second);
        auto failed = f.metadata().find("failed");
        if (failed != f.metadata().end()) {
          const nlohmann::json list = nlohmann::json::parse(failed->second);  // outlives items()
          for (const auto& [clip, why] : list.items()) out.failed[std::stoll(clip)] = why;
        }
        check_rows(out, path);  // a malformed entry throws: recomputed below
        if (from_cache) *from_cache = true;
        return out;
      }
    } catch (const std::exception&) {
      // unreadable cache entry (file, tensors or metadata): recomputed and replaced below
    }
  }
  ProbeFeatures out = source.compute(task, split_name, progress);
  fs::create_directories(dir);
  check_rows(out, source.name() + " features of " + task.name + "/" + split_name);
  const at::Tensor clip = at::tensor(out.clip, at::kLong);
  nlohmann::json failed = nlohmann::json::object();
  for (const auto& [k, v] : out.failed) failed[std::to_string(k)] = v;
  save_safetensors(path, {{"features", out.x}, {"clip", clip}},
                   {{"format", kCacheFormat},
                    {"fingerprint", fingerprint},
                    {"source", source.spec()},
                    {"source_key", source.key()},
                    {"task", task.name},
                    {"task_dir", fs::absolute(task.dir).lexically_normal().string()},
                    {"split", split_name},
                    {"failed", failed.dump()},
                    {"frame_rate", nlohmann::json(out.frame_rate).dump()},
                    {"mode", task.mode == "window" ? "window " + std::to_string(task.window_s) +
                                                         "/" + std::to_string(task.hop_s)
                                                   : "clip"}});
  return out;
}

}  // namespace musefm
