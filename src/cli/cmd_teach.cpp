// musefm teach: fairseq-style label sets from a manifest with one of the teachers (k-means on
// MFCC or on an encoder layer, BEST-RQ, EnCodec RVQ), sharded, resumable and verified.
//
// Labelling keeps a journal (<out>/.<split>[_i_n].<teacher>.partial.jsonl, one JSON line per
// finished entry), so a killed run resumes where it stopped; the label files and dictionaries
// are written (atomically) only when every entry of the shard is labelled, then verified.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/teach_sources.h"
#include "musefm/audio.h"
#include "musefm/distributed.h"
#include "musefm/features.h"
#include "musefm/manifest.h"
#include "musefm/teachers.h"

namespace musefm::cli {
namespace fs = std::filesystem;

namespace {

std::string shard_base(const TeachOptions& o) {
  return o.nshards == 1 ? o.split
                        : o.split + "_" + std::to_string(o.shard) + "_" + std::to_string(o.nshards);
}

at::Tensor load_wave(const std::string& path, int rate) {
  AudioLoadOptions lo;
  lo.target_rate = rate;
  return waveform_tensor(load_audio(path, lo));
}

void append_failure(const std::string& out_dir, const std::string& path, size_t index,
                    const std::string& error) {
  std::ofstream f(fs::path(out_dir) / "failures.jsonl", std::ios::app);
  f << nlohmann::json{{"input", path}, {"manifest_line", index + 2}, {"error", error}}.dump()
    << "\n";
  std::fprintf(stderr, "musefm teach: %s: %s\n", path.c_str(), error.c_str());
}

// ---- k-means fitting ------------------------------------------------------------------------

std::string fit_kmeans(const TeachOptions& o, const Teacher& t,
                       const std::vector<ManifestEntry>& entries) {
  // "km" keeps the historical name; other label streams get their own file in the same folder
  const std::string file =
      t.names[0] == "km" ? "kmeans.safetensors" : "kmeans_" + t.names[0] + ".safetensors";
  const std::string path =
      o.kmeans_path.empty() ? (fs::path(o.out_dir) / file).string() : o.kmeans_path;
  if (fs::exists(path) && !o.overwrite) {
    std::fprintf(stderr, "musefm teach: using the k-means model %s (--overwrite refits)\n",
                 path.c_str());
    return path;
  }
  auto group = Collective::from_env();
  // A seeded choice of ceil(percent * N) entries; rank r reads every world-th of them.
  std::vector<size_t> order(entries.size());
  std::iota(order.begin(), order.end(), size_t(0));
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  const at::Tensor perm = at::randperm(int64_t(entries.size()), gen, at::TensorOptions(at::kLong));
  const size_t n_fit = std::max<size_t>(1, size_t(std::ceil(o.percent * double(entries.size()))));
  std::vector<at::Tensor> rows;
  Progress progress("k-means features", int64_t((n_fit + group->world_size() - 1 - group->rank()) /
                                                group->world_size()));
  for (size_t j = size_t(group->rank()); j < n_fit; j += size_t(group->world_size())) {
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
      append_failure(o.out_dir, entries[i].path, i, e.what());
    }
    progress.step(1, fs::path(entries[i].path).filename().string());
  }
  progress.finish();
  const at::Tensor x = rows.empty() ? at::empty({0, 1}) : at::cat(rows);
  KMeansConfig kc;
  kc.k = int(t.k);
  kc.seed = o.seed;
  KMeansReport rep;
  Progress fit_bar("k-means fit", 100);
  int64_t shown = 0;
  const KMeans km = KMeans::fit(
      x, kc, group.get(),
      [&](const std::string&, int64_t step, int64_t total) {
        const int64_t pct = total > 0 ? 100 * step / total : 0;
        if (pct > shown) fit_bar.step(pct - shown), shown = pct;
      },
      &rep);
  fit_bar.finish();
  if (group->rank() == 0) {
    km.save(path, {{"teacher", o.teacher},
                   {"k", std::to_string(t.k)},
                   {"layer", o.teacher == "kmeans-layer" ? std::to_string(o.layer) : ""},
                   {"model", o.model},
                   {"rows", std::to_string(rep.rows)},
                   {"inertia", std::to_string(rep.inertia)},
                   {"config", kc.to_json()}});
    std::fprintf(stderr,
                 "musefm teach: k-means K=%d on %lld frames: inertia %.6g (%lld mini-batch "
                 "steps, %d refinement iterations) -> %s\n",
                 kc.k, static_cast<long long>(rep.rows), rep.inertia,
                 static_cast<long long>(rep.minibatch_steps), rep.refine_iterations, path.c_str());
  }
  group->barrier();
  return path;
}

// ---- labelling -------------------------------------------------------------------------------

// Finished entries of an interrupted run: global index -> label rows.
std::map<size_t, std::vector<std::vector<int64_t>>> read_journal(const std::string& path,
                                                                 size_t streams) {
  std::map<size_t, std::vector<std::vector<int64_t>>> done;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    try {
      const auto j = nlohmann::json::parse(line);
      auto rows = j.at("labels").get<std::vector<std::vector<int64_t>>>();
      if (rows.size() == streams) done[j.at("i").get<size_t>()] = std::move(rows);
    } catch (const nlohmann::json::exception&) {
      break;  // a line cut by the kill: everything after it is redone
    }
  }
  return done;
}

int verify_set(const TeachOptions& o, const std::vector<std::string>& names, double rate) {
  int bad = 0;
  for (const auto& name : names) {
    const std::string labels = (fs::path(o.out_dir) / (o.split + "." + name)).string();
    const std::string dict = (fs::path(o.out_dir) / ("dict." + name + ".txt")).string();
    const LabelCheck c =
        verify_labels(o.manifest, labels, dict, rate, o.tolerance_s, o.sample_rate);
    if (c.ok()) {
      std::printf("ok      %s: %lld lines, %lld symbols, lengths within %.3g s at %.6g Hz\n",
                  labels.c_str(), static_cast<long long>(c.lines), static_cast<long long>(c.k),
                  o.tolerance_s, rate);
    } else {
      ++bad;
      std::printf("INVALID %s:\n", labels.c_str());
      for (const auto& p : c.problems) std::printf("  - %s\n", p.c_str());
    }
  }
  return bad;
}

void label_shard(const TeachOptions& o, Teacher& t, const std::vector<ManifestEntry>& entries) {
  const std::string base = shard_base(o);
  const size_t begin = entries.size() * size_t(o.shard) / size_t(o.nshards);
  const size_t end = entries.size() * size_t(o.shard + 1) / size_t(o.nshards);
  const auto out = [&](const std::string& name) {
    return (fs::path(o.out_dir) / (base + "." + name)).string();
  };
  bool all_there = !o.overwrite;
  for (const auto& n : t.names) all_there = all_there && fs::exists(out(n));
  if (all_there) {
    std::fprintf(stderr, "musefm teach: %s.{%s...} exist; nothing to do (--overwrite redoes)\n",
                 base.c_str(), t.names[0].c_str());
    return;
  }
  const std::string journal =
      (fs::path(o.out_dir) / ("." + base + "." + o.teacher + ".partial.jsonl")).string();
  if (o.overwrite) fs::remove(journal);
  auto done = read_journal(journal, t.names.size());
  {  // rewrite the journal without a possibly cut last line
    std::ofstream j(journal, std::ios::trunc);
    for (const auto& [i, rows] : done)
      j << nlohmann::json{{"i", i}, {"labels", rows}}.dump() << "\n";
  }
  std::ofstream journal_out(journal, std::ios::app);
  size_t resumed = 0;
  for (const auto& d : done) resumed += d.first >= begin && d.first < end;
  if (resumed)
    std::fprintf(stderr, "musefm teach: resuming: %zu of %zu entries already labelled (%s)\n",
                 resumed, end - begin, journal.c_str());
  size_t failed = 0;
  Progress progress("labels " + base, int64_t(end - begin));
  for (size_t i = begin; i < end; ++i) {
    const std::string name = fs::path(entries[i].path).filename().string();
    if (done.count(i)) {
      progress.step(1, name);
      continue;
    }
    try {
      const at::Tensor ids = t.label(load_wave(entries[i].path, t.sample_rate)).to(at::kLong).cpu();
      MUSEFM_CHECK(ids.dim() == 2 && ids.size(0) == int64_t(t.names.size()) && ids.size(1) > 0,
                   "the teacher gave labels of shape ", ids.sizes(), " (audio too short?)");
      std::vector<std::vector<int64_t>> rows;
      for (int64_t r = 0; r < ids.size(0); ++r) {
        const at::Tensor row = ids[r].contiguous();
        rows.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
      }
      journal_out << nlohmann::json{{"i", i}, {"labels", rows}}.dump() << "\n";
      journal_out.flush();
      done[i] = std::move(rows);
    } catch (const Error& e) {
      ++failed;
      append_failure(o.out_dir, entries[i].path, i, e.what());
    }
    progress.step(1, name);
  }
  progress.finish();
  journal_out.close();
  if (failed) {
    exit_code() = 1;
    std::fprintf(stderr,
                 "musefm teach: %zu of %zu entries failed (see %s/failures.jsonl); the %zu "
                 "labelled ones are kept in %s: fix or remove the failed entries and rerun\n",
                 failed, end - begin, o.out_dir.c_str(), done.size(), journal.c_str());
    return;
  }
  for (size_t s = 0; s < t.names.size(); ++s) {
    LabelFile f{t.names[s], {}};
    for (size_t i = begin; i < end; ++i) f.lines.push_back(done.at(i)[s]);
    write_label_file(o.out_dir, base, f, t.k);
  }
  fs::remove(journal);
  std::fprintf(stderr, "musefm teach: wrote %zu label file(s) %s/%s.{%s%s} for %zu entries\n",
               t.names.size(), o.out_dir.c_str(), base.c_str(), t.names[0].c_str(),
               t.names.size() > 1 ? ",..." : "", end - begin);
  if (o.nshards == 1 && verify_set(o, t.names, t.rate) > 0) exit_code() = 1;
}

void merge_shards(const TeachOptions& o, const std::vector<std::string>& names) {
  MUSEFM_CHECK(o.nshards >= 1, "teach --merge needs --nshards N (the shards to concatenate)");
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
    std::fprintf(stderr, "musefm teach: merged %d shards into %s\n", o.nshards, dst.c_str());
  }
}

void run(TeachOptions& o) {
  if (o.threads > 0) at::set_num_threads(o.threads);
  MUSEFM_CHECK(!o.manifest.empty(), "teach: --manifest is required");
  MUSEFM_CHECK(o.percent > 0 && o.percent <= 1, "teach: --percent must be in (0, 1], got ",
               o.percent);
  if (o.split.empty()) o.split = fs::path(o.manifest).stem().string();
  const std::vector<ManifestEntry> entries = read_manifest(o.manifest);
  MUSEFM_CHECK(!entries.empty(), o.manifest, ": the manifest lists no audio");
  fs::create_directories(o.out_dir);
  if (o.verify) {
    MUSEFM_CHECK(!o.teacher.empty(), "teach --verify: --teacher says which label files to check");
    double rate = o.label_rate > 0 ? o.label_rate : teacher_rate(o.teacher);
    if (rate <= 0) rate = make_teacher(o).rate;  // kmeans-layer: the model's frame rate
    if (verify_set(o, teacher_label_names(o), rate) > 0) exit_code() = 1;
    return;
  }
  if (o.merge) {
    merge_shards(o, teacher_label_names(o));
    const double rate = o.label_rate > 0 ? o.label_rate : teacher_rate(o.teacher);
    if (rate > 0 && verify_set(o, teacher_label_names(o), rate) > 0) exit_code() = 1;
    return;
  }
  if (o.nshards == 0) {  // from the launcher (torchrun / SLURM), else one shard
    const RendezvousConfig r = RendezvousConfig::from_env();
    o.shard = o.shard >= 0 ? o.shard : r.rank;
    o.nshards = r.world_size;
  }
  if (o.shard < 0) o.shard = 0;
  MUSEFM_CHECK(o.nshards >= 1 && o.shard < o.nshards, "teach: --shard ", o.shard,
               " outside [0, --nshards ", o.nshards, ")");
  Teacher t = make_teacher(o);
  if (t.needs_kmeans) set_kmeans(t, fit_kmeans(o, t, entries), o.k > 0);
  label_shard(o, t, entries);
}

}  // namespace

void add_teach_command(CLI::App& app) {
  auto o = std::make_shared<TeachOptions>();
  auto* cmd = app.add_subcommand(
      "teach",
      "Label a fairseq manifest with a teacher, for masked-prediction pretraining.\n"
      "Writes <out>/<split>.<label> (one line of space-separated ids per manifest entry) and\n"
      "<out>/dict.<label>.txt, then verifies them against the manifest. Teachers:\n"
      "  kmeans-mfcc   k-means (K=100) on 39-dim Kaldi MFCC (+deltas), 100 Hz   -> km\n"
      "  kmeans-chroma k-means (K=64) on 12-dim CQT pitch-class profiles, 100 Hz -> chroma\n"
      "  kmeans-layer  k-means (K=500) on hidden state --layer of --model      -> km\n"
      "  bestrq        MusicFM's random-projection quantizer of --model, 25 Hz -> bestrq_0\n"
      "  encodec       EnCodec 24 kHz RVQ codes of --codec at --bandwidth, 75 Hz\n"
      "                                                        -> encodec_0..N-1\n"
      "k-means teachers first fit on --percent of the entries (kmeans.safetensors in --out;\n"
      "reused on reruns) unless --kmeans FILE is given. Under torchrun/srun every rank fits\n"
      "together (c10d gloo) and labels its own shard. Interrupted runs resume; per-entry\n"
      "failures go to failures.jsonl. Examples:\n"
      "  musefm teach --manifest train.tsv --teacher kmeans-mfcc --out labels/\n"
      "  musefm teach --manifest train.tsv --teacher encodec --codec encodec24k/ --out labels/\n"
      "  musefm teach --manifest train.tsv --teacher encodec --out labels/ --verify");
  cmd->add_option("--manifest", o->manifest,
                  "fairseq manifest (.tsv: root line, then "
                  "relative/path<TAB>num_samples)")
      ->required();
  cmd->add_option("--teacher", o->teacher,
                  "kmeans-mfcc | kmeans-chroma | kmeans-layer | bestrq | encodec")
      ->required();
  cmd->add_option("--out", o->out_dir, "Output folder of the label set")->required();
  cmd->add_option("--split", o->split, "Label file prefix (default: the manifest's stem)");
  cmd->add_option("--k", o->k,
                  "k-means clusters (default 100 for MFCC, 64 for chroma, 500 for a layer)");
  cmd->add_option("--label-name", o->label_name,
                  "Name of the label stream written (<split>.<name>; default: the teacher's, e.g. "
                  "km); lets several k-means teachers share one folder");
  cmd->add_option("--kmeans", o->kmeans_path, "Use this fitted k-means model (safetensors)");
  cmd->add_option("--percent", o->percent, "Fraction of entries the k-means is fitted on")
      ->capture_default_str();
  cmd->add_option("--max-frames", o->max_frames_per_entry,
                  "k-means fit: at most this many random frames per entry (0 = all)")
      ->capture_default_str();
  cmd->add_option("--model", o->model, "Encoder model dir (kmeans-layer, bestrq)");
  cmd->add_option("--layer", o->layer, "kmeans-layer: hidden state index")->capture_default_str();
  cmd->add_option("--codec", o->codec, "EnCodec model dir (encodec)");
  cmd->add_option("--bandwidth", o->bandwidth,
                  "encodec: kbps (1.5, 3, 6, 12, 24; 6 -> 8 codebooks)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the k-means and its entry sample")
      ->capture_default_str();
  cmd->add_option("--shard", o->shard, "This shard's index (default: RANK, else 0)");
  cmd->add_option("--nshards", o->nshards, "Number of shards (default: WORLD_SIZE, else 1)");
  cmd->add_flag("--merge", o->merge, "Concatenate the --nshards shards into <split>.<label>");
  cmd->add_flag("--verify", o->verify,
                "Only check an existing label set against the manifest: one line per entry, "
                "labels vs duration x rate within --tolerance, ids in the dictionary");
  cmd->add_option("--label-rate", o->label_rate,
                  "--verify: labels per second (default: the "
                  "teacher's)");
  cmd->add_option("--tolerance", o->tolerance_s, "--verify: seconds of length mismatch allowed")
      ->capture_default_str();
  cmd->add_option("--sample-rate", o->sample_rate,
                  "Rate of the manifest's sample counts, and of the MFCC teacher's audio")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)");
  cmd->add_option("--device", o->device, "cpu or cuda[:N] (kmeans-layer, encodec)")
      ->capture_default_str();
  cmd->add_flag("--overwrite", o->overwrite, "Refit and relabel from scratch");
  cmd->callback([o] { run(*o); });
}

}  // namespace musefm::cli
