// label_manifest(), merge_label_shards(), verify_label_set() (musefm/teachers.h): fairseq-style
// label sets from a manifest with one of the teachers, sharded, resumable and verified.
//
// Labelling keeps a journal (<out>/.<split>[_i_n].<teacher>.partial.jsonl, one JSON line per
// finished entry), so a killed run resumes where it stopped; the label files and dictionaries
// are written (atomically) only when every entry of the shard is labelled, then verified.
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/strings.h"
#include "musefm/audio.h"
#include "musefm/distributed.h"
#include "musefm/features.h"
#include "musefm/manifest.h"
#include "musefm/teachers.h"

namespace musefm {
namespace fs = std::filesystem;
using detail::format;

namespace {

using Rows = std::vector<std::vector<int64_t>>;  // label ids of one entry, per stream

std::string shard_base(const LabelOptions& o) {
  return o.nshards == 1 ? o.split
                        : o.split + "_" + std::to_string(o.shard) + "_" + std::to_string(o.nshards);
}

at::Tensor load_wave(const std::string& path, int rate) {
  AudioLoadOptions lo;
  lo.target_rate = rate;
  return waveform_tensor(load_audio(path, lo));
}

void append_failure(const LabelOptions& o, const std::string& path, size_t index,
                    const std::string& error, const ProgressCallbacks& progress) {
  std::ofstream f(fs::path(o.out_dir) / "failures.jsonl", std::ios::app);
  f << nlohmann::json{{"input", path}, {"manifest_line", index + 2}, {"error", error}}.dump()
    << "\n";
  progress.on_log(LogLevel::Warning, path + ": " + error);
}

// Checks the options every mode shares, fills in the split and reads the manifest.
std::vector<ManifestEntry> prepare(LabelOptions& o) {
  MUSEFM_CHECK(!o.manifest.empty(), "teach: --manifest is required");
  MUSEFM_CHECK(o.percent > 0 && o.percent <= 1, "teach: --percent must be in (0, 1], got ",
               o.percent);
  if (o.split.empty()) o.split = fs::path(o.manifest).stem().string();
  std::vector<ManifestEntry> entries = read_manifest(o.manifest);
  MUSEFM_CHECK(!entries.empty(), o.manifest, ": the manifest lists no audio");
  fs::create_directories(o.out_dir);
  return entries;
}

// ---- k-means fitting ------------------------------------------------------------------------

// Features of a seeded choice of ceil(percent * N) entries; rank r reads every world-th of them.
at::Tensor fit_rows(const LabelOptions& o, const Teacher& t,
                    const std::vector<ManifestEntry>& entries, const Collective& group,
                    const ProgressCallbacks& progress) {
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  const at::Tensor perm = at::randperm(int64_t(entries.size()), gen, at::TensorOptions(at::kLong));
  const size_t n_fit = std::max<size_t>(1, size_t(std::ceil(o.percent * double(entries.size()))));
  const size_t world = size_t(group.world_size()), rank = size_t(group.rank());
  std::vector<at::Tensor> rows;
  progress.on_begin("k-means features", int64_t((n_fit + world - 1 - rank) / world));
  for (size_t j = rank; j < n_fit; j += world) {
    const size_t i = size_t(perm[int64_t(j)].item<int64_t>());
    try {
      at::Tensor f = t.features(load_wave(entries[i].path, t.sample_rate));
      if (o.max_frames_per_entry > 0 && f.size(0) > o.max_frames_per_entry) {
        const at::Tensor pick = at::randperm(f.size(0), gen, at::TensorOptions(at::kLong))
                                    .narrow(0, 0, o.max_frames_per_entry);
        f = f.index_select(0, std::get<0>(pick.sort()));
      }
      rows.push_back(f.to(at::kFloat).contiguous());
    } catch (const Error& e) {
      append_failure(o, entries[i].path, i, e.what(), progress);
    }
    progress.on_step(1, fs::path(entries[i].path).filename().string());
  }
  progress.on_end();
  return rows.empty() ? at::empty({0, 1}) : at::cat(rows);
}

std::string fit_kmeans(const LabelOptions& o, const Teacher& t,
                       const std::vector<ManifestEntry>& entries,
                       const ProgressCallbacks& progress) {
  // "km" keeps the historical name; other label streams get their own file in the same folder
  const std::string file =
      t.names[0] == "km" ? "kmeans.safetensors" : "kmeans_" + t.names[0] + ".safetensors";
  const std::string path =
      o.kmeans_path.empty() ? (fs::path(o.out_dir) / file).string() : o.kmeans_path;
  if (fs::exists(path) && !o.overwrite) {
    progress.on_log(LogLevel::Info, "using the k-means model " + path + " (--overwrite refits)");
    return path;
  }
  auto group = Collective::from_env();
  const at::Tensor x = fit_rows(o, t, entries, *group, progress);
  KMeansConfig kc;
  kc.k = int(t.k);
  kc.seed = o.seed;
  KMeansReport rep;
  progress.on_begin("k-means fit", 100);
  int64_t shown = 0;
  const KMeans km = KMeans::fit(
      x, kc, group.get(),
      [&](const std::string&, int64_t step, int64_t total) {
        const int64_t pct = total > 0 ? 100 * step / total : 0;
        if (pct > shown) progress.on_step(pct - shown, ""), shown = pct;
      },
      &rep);
  progress.on_end();
  if (group->rank() == 0) {
    const TeacherConfig& c = o.teacher;
    km.save(path, {{"teacher", c.teacher},
                   {"k", std::to_string(t.k)},
                   {"layer", c.teacher == "kmeans-layer" ? std::to_string(c.layer) : ""},
                   {"model", c.model},
                   {"rows", std::to_string(rep.rows)},
                   {"inertia", std::to_string(rep.inertia)},
                   {"config", kc.to_json()}});
    progress.on_log(
        LogLevel::Info,
        format("k-means K=%d on %lld frames: inertia %.6g (%d sample iterations, %lld "
               "mini-batch steps, %d refinement iterations) -> %s",
               kc.k, static_cast<long long>(rep.rows), rep.inertia, rep.sample_iterations,
               static_cast<long long>(rep.minibatch_steps), rep.refine_iterations, path.c_str()));
  }
  group->barrier();
  return path;
}

// ---- labelling -------------------------------------------------------------------------------

// Finished entries of an interrupted run: global index -> label rows.
std::map<size_t, Rows> read_journal(const std::string& path, size_t streams) {
  std::map<size_t, Rows> done;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    try {
      const auto j = nlohmann::json::parse(line);
      auto rows = j.at("labels").get<Rows>();
      if (rows.size() == streams) done[j.at("i").get<size_t>()] = std::move(rows);
    } catch (const nlohmann::json::exception&) {
      break;  // a line cut by the kill: everything after it is redone
    }
  }
  return done;
}

LabelVerification verify_set(const LabelOptions& o, const std::vector<std::string>& names,
                             double rate) {
  LabelVerification v;
  v.rate = rate;
  v.tolerance_s = o.tolerance_s;
  for (const auto& name : names) {
    const std::string labels = (fs::path(o.out_dir) / (o.split + "." + name)).string();
    const std::string dict = (fs::path(o.out_dir) / ("dict." + name + ".txt")).string();
    v.files.push_back(
        verify_labels(o.manifest, labels, dict, rate, o.tolerance_s, o.teacher.sample_rate));
  }
  return v;
}

// Labels one entry: [streams][T] ids.
Rows label_entry(const Teacher& t, const std::string& path) {
  const at::Tensor ids = t.label(load_wave(path, t.sample_rate)).to(at::kLong).cpu();
  MUSEFM_CHECK(ids.dim() == 2 && ids.size(0) == int64_t(t.names.size()) && ids.size(1) > 0,
               "the teacher gave labels of shape ", ids.sizes(), " (audio too short?)");
  Rows rows;
  for (int64_t r = 0; r < ids.size(0); ++r) {
    const at::Tensor row = ids[r].contiguous();
    rows.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  return rows;
}

// The journal's finished entries, rewritten without a possibly cut last line.
std::map<size_t, Rows> open_journal(const std::string& journal, const LabelOptions& o,
                                    size_t streams) {
  if (o.overwrite) fs::remove(journal);
  auto done = read_journal(journal, streams);
  std::ofstream j(journal, std::ios::trunc);
  for (const auto& [i, rows] : done) j << nlohmann::json{{"i", i}, {"labels", rows}}.dump() << "\n";
  return done;
}

void label_shard(const LabelOptions& o, const Teacher& t, const std::vector<ManifestEntry>& entries,
                 const ProgressCallbacks& progress, LabelResult& r) {
  r.base = shard_base(o);
  const size_t begin = entries.size() * size_t(o.shard) / size_t(o.nshards);
  const size_t end = entries.size() * size_t(o.shard + 1) / size_t(o.nshards);
  r.entries = int64_t(end - begin);
  bool all_there = !o.overwrite;
  for (const auto& n : t.names)
    all_there = all_there && fs::exists(fs::path(o.out_dir) / (r.base + "." + n));
  if (all_there) {
    r.up_to_date = true;
    progress.on_log(LogLevel::Info,
                    r.base + ".{" + t.names[0] + "...} exist; nothing to do (--overwrite redoes)");
    return;
  }
  const std::string journal =
      (fs::path(o.out_dir) / ("." + r.base + "." + o.teacher.teacher + ".partial.jsonl")).string();
  auto done = open_journal(journal, o, t.names.size());
  std::ofstream journal_out(journal, std::ios::app);
  for (const auto& d : done) r.resumed += d.first >= begin && d.first < end;
  if (r.resumed)
    progress.on_log(LogLevel::Info,
                    format("resuming: %lld of %zu entries already labelled (%s)",
                           static_cast<long long>(r.resumed), end - begin, journal.c_str()));
  progress.on_begin("labels " + r.base, r.entries);
  for (size_t i = begin; i < end; ++i) {
    const std::string name = fs::path(entries[i].path).filename().string();
    if (!done.count(i)) {
      try {
        Rows rows = label_entry(t, entries[i].path);
        journal_out << nlohmann::json{{"i", i}, {"labels", rows}}.dump() << "\n";
        journal_out.flush();
        done[i] = std::move(rows);
      } catch (const Error& e) {
        ++r.failed;
        append_failure(o, entries[i].path, i, e.what(), progress);
      }
    }
    progress.on_step(1, name);
  }
  progress.on_end();
  journal_out.close();
  if (r.failed) {
    progress.on_log(LogLevel::Warning,
                    format("%lld of %zu entries failed (see %s/failures.jsonl); the %zu labelled "
                           "ones are kept in %s: fix or remove the failed entries and rerun",
                           static_cast<long long>(r.failed), end - begin, o.out_dir.c_str(),
                           done.size(), journal.c_str()));
    return;
  }
  for (size_t s = 0; s < t.names.size(); ++s) {
    LabelFile f{t.names[s], {}};
    for (size_t i = begin; i < end; ++i) f.lines.push_back(done.at(i)[s]);
    write_label_file(o.out_dir, r.base, f, t.k);
  }
  fs::remove(journal);
  progress.on_log(LogLevel::Info,
                  format("wrote %zu label file(s) %s/%s.{%s%s} for %zu entries", t.names.size(),
                         o.out_dir.c_str(), r.base.c_str(), t.names[0].c_str(),
                         t.names.size() > 1 ? ",..." : "", end - begin));
  if (o.nshards == 1) r.verification = verify_set(o, t.names, t.rate);
}

}  // namespace

LabelResult label_manifest(LabelOptions o, const ProgressCallbacks& progress) {
  const std::vector<ManifestEntry> entries = prepare(o);
  if (o.nshards == 0) {  // from the launcher (torchrun / SLURM), else one shard
    const RendezvousConfig r = RendezvousConfig::from_env();
    o.shard = o.shard >= 0 ? o.shard : r.rank;
    o.nshards = r.world_size;
  }
  if (o.shard < 0) o.shard = 0;
  MUSEFM_CHECK(o.nshards >= 1 && o.shard < o.nshards, "teach: --shard ", o.shard,
               " outside [0, --nshards ", o.nshards, ")");
  Teacher t = make_teacher(o.teacher);
  LabelResult r;
  if (t.needs_kmeans) {
    r.kmeans_path = fit_kmeans(o, t, entries, progress);
    attach_kmeans(t, r.kmeans_path, o.teacher.k > 0);
  }
  label_shard(o, t, entries, progress, r);
  return r;
}

LabelVerification merge_label_shards(LabelOptions o, const ProgressCallbacks& progress) {
  prepare(o);
  MUSEFM_CHECK(o.nshards >= 1, "teach --merge needs --nshards N (the shards to concatenate)");
  const std::vector<std::string> names = teacher_label_names(o.teacher);
  for (const auto& name : names) {
    std::string text;
    for (int s = 0; s < o.nshards; ++s) {
      const fs::path p = fs::path(o.out_dir) / (o.split + "_" + std::to_string(s) + "_" +
                                                std::to_string(o.nshards) + "." + name);
      std::ifstream in(p, std::ios::binary);
      MUSEFM_CHECK(in.good(), p.string(), ": missing shard ", s, " of ", o.nshards,
                   " (run musefm teach --shard ", s, " --nshards ", o.nshards, " first)");
      text += std::string(std::istreambuf_iterator<char>(in), {});
      MUSEFM_CHECK(text.empty() || text.back() == '\n', p.string(), ": the last line is cut");
    }
    const fs::path dst = fs::path(o.out_dir) / (o.split + "." + name);
    const fs::path tmp = dst.string() + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << text;
      MUSEFM_CHECK(f.good(), tmp.string(), ": write failed");
    }
    fs::rename(tmp, dst);
    progress.on_log(LogLevel::Info, format("merged %d shards into %s", o.nshards, dst.c_str()));
  }
  const double rate = o.label_rate > 0 ? o.label_rate : teacher_label_rate(o.teacher.teacher);
  return rate > 0 ? verify_set(o, names, rate) : LabelVerification{rate, o.tolerance_s, {}};
}

LabelVerification verify_label_set(LabelOptions o) {
  prepare(o);
  MUSEFM_CHECK(!o.teacher.teacher.empty(),
               "teach --verify: --teacher says which label files to check");
  double rate = o.label_rate > 0 ? o.label_rate : teacher_label_rate(o.teacher.teacher);
  if (rate <= 0) rate = make_teacher(o.teacher).rate;  // kmeans-layer: the model's frame rate
  return verify_set(o, teacher_label_names(o.teacher), rate);
}

std::string LabelVerification::report() const {
  std::string text;
  for (const LabelCheck& c : files) {
    if (c.ok()) {
      text +=
          detail::format("ok      %s: %lld lines, %lld symbols, lengths within %.3g s at %.6g Hz\n",
                         c.label_path.c_str(), static_cast<long long>(c.lines),
                         static_cast<long long>(c.k), tolerance_s, rate);
    } else {
      text += "INVALID " + c.label_path + ":\n";
      for (const auto& p : c.problems) text += "  - " + p + "\n";
    }
  }
  return text;
}

}  // namespace musefm
