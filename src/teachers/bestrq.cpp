// BEST-RQ targets as MusicFM computes them (modules/random_quantizer.py, get_targets): stacked
// normalised mel frames, a frozen random projection, L2-normalised nearest code.
#include <ATen/ATen.h>

#include <sys/stat.h>
#include <cmath>

#include "musefm/safetensors.h"
#include "musefm/teachers.h"

namespace musefm {
namespace {

const char* kPrefix = "quantizer_melspec_2048_";

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

BestRq::BestRq(at::Tensor projections, at::Tensor codebooks, int stack)
    : projections_(std::move(projections)), codebooks_(std::move(codebooks)), stack_(stack) {
  MUSEFM_CHECK(projections_.dim() == 3 && codebooks_.dim() == 3, "BEST-RQ: projections must be ",
               "[n, in, dim] and codebooks [n, codes, dim], got ", projections_.sizes(), " and ",
               codebooks_.sizes());
  MUSEFM_CHECK(projections_.size(0) == codebooks_.size(0) && projections_.size(0) >= 1,
               "BEST-RQ: ", projections_.size(0), " projections for ", codebooks_.size(0),
               " codebooks");
  MUSEFM_CHECK(projections_.size(2) == codebooks_.size(2) && codebooks_.size(1) >= 1,
               "BEST-RQ: projection dim ", projections_.size(2), " != codebook dim ",
               codebooks_.size(2));
  MUSEFM_CHECK(stack_ >= 1 && projections_.size(1) % stack_ == 0, "BEST-RQ: projection input ",
               projections_.size(1), " is not a multiple of the ", stack_, " stacked frames");
  MUSEFM_CHECK(projections_.is_floating_point() && codebooks_.is_floating_point(),
               "BEST-RQ: projections and codebooks must be floating point");
  projections_ = projections_.to(at::kFloat).contiguous();
  codebooks_ = codebooks_.to(at::kFloat).contiguous();
  MUSEFM_CHECK(
      at::isfinite(projections_).all().item<bool>() && at::isfinite(codebooks_).all().item<bool>(),
      "BEST-RQ: non-finite projection or codebook values");
}

BestRq BestRq::random(int num_codebooks, int64_t in_dim, int64_t dim, int64_t codes, uint64_t seed,
                      int stack) {
  MUSEFM_CHECK(num_codebooks >= 1 && in_dim >= 1 && dim >= 1 && codes >= 1,
               "BEST-RQ: codebooks, input dim, dim and codes must be >= 1");
  std::vector<at::Tensor> p, c;
  for (int i = 0; i < num_codebooks; ++i) {
    // As RandomProjectionQuantizer(seed = seed + i): torch.manual_seed, xavier_normal_ on
    // [in, dim] (fan_in = dim, fan_out = in), then normal_ on the codebook; the same CPU
    // generator gives the same numbers as the Python module.
    at::Generator gen = at::detail::createCPUGenerator(seed + uint64_t(i));
    at::Tensor proj = at::empty({in_dim, dim}, at::kFloat);
    proj.normal_(0.0, std::sqrt(2.0 / double(in_dim + dim)), gen);
    at::Tensor book = at::empty({codes, dim}, at::kFloat);
    book.normal_(0.0, 1.0, gen);
    p.push_back(proj);
    c.push_back(book);
  }
  return BestRq(at::stack(p), at::stack(c), stack);
}

BestRq BestRq::load(const std::string& path) {
  const std::string file = is_dir(path) ? path + "/model.safetensors" : path;
  const SafeTensorsFile f = SafeTensorsFile::open(file);
  std::vector<at::Tensor> p, c;
  if (f.contains("projections")) {  // BestRq::save()
    MUSEFM_CHECK(f.contains("codebooks"), file, ": 'projections' without 'codebooks'");
    p.push_back(f.get("projections"));
    c.push_back(f.get("codebooks"));
  } else {
    for (int i = 0;; ++i) {
      const std::string q = kPrefix + std::to_string(i);
      if (!f.contains(q + ".random_projection") && !f.contains(q + ".codebook")) break;
      MUSEFM_CHECK(f.contains(q + ".random_projection") && f.contains(q + ".codebook"), file, ": ",
                   q, " needs both .random_projection and .codebook");
      p.push_back(f.get(q + ".random_projection").unsqueeze(0));
      c.push_back(f.get(q + ".codebook").unsqueeze(0));
    }
    MUSEFM_CHECK(!p.empty(), file, ": no BEST-RQ quantizer (", kPrefix,
                 "0.random_projection / .codebook); convert a MusicFM checkpoint with "
                 "tools/convert_checkpoint.py musicfm, or make a random one with --seed");
  }
  int stack = 4;
  if (f.metadata().count("stack")) {
    try {
      stack = std::stoi(f.metadata().at("stack"));
    } catch (const std::exception&) {
      MUSEFM_FAIL(file, ": metadata 'stack' is not an integer: ", f.metadata().at("stack"));
    }
  }
  try {
    return BestRq(at::cat(p), at::cat(c), stack);
  } catch (const Error& e) {
    MUSEFM_FAIL(file, ": ", e.what());
  }
}

void BestRq::save(const std::string& path) const {
  save_safetensors(path, {{"projections", projections_}, {"codebooks", codebooks_}},
                   {{"format", "musefm.bestrq"}, {"stack", std::to_string(stack_)}});
}

at::Tensor BestRq::tokens(const at::Tensor& mel) const {
  const int64_t F = projections_.size(1) / stack_;
  MUSEFM_CHECK(mel.dim() == 3 && mel.size(1) == F, "BEST-RQ: mel must be [B, ", F, ", T] (", stack_,
               " frames of ", F, " bands = the projection input ", projections_.size(1), "), got ",
               mel.sizes());
  const int64_t B = mel.size(0), T = mel.size(2) / stack_;
  // "b f (t s) -> b t (s f)": each token sees `stack` consecutive frames, frame-major.
  const at::Tensor x = mel.to(at::kFloat)
                           .narrow(2, 0, T * stack_)
                           .view({B, F, T, stack_})
                           .permute({0, 2, 3, 1})
                           .reshape({B * T, stack_ * F});
  const at::Tensor p = projections_.to(mel.device()), c = codebooks_.to(mel.device());
  // F.normalize(v, dim=1): v / max(||v||, 1e-12).
  const auto normalize = [](const at::Tensor& v) {
    return v / v.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
  };
  constexpr int64_t kRows = 8192;  // tokens per distance block: [codes, kRows] floats
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < p.size(0); ++i) {
    const at::Tensor z = normalize(at::mm(x, p[i])), book = normalize(c[i]);
    std::vector<at::Tensor> ids;
    // argmin over codes of cdist(codebook, x), as upstream (same distance computation).
    for (int64_t a = 0; a < z.size(0); a += kRows)
      ids.push_back(at::cdist(book, z.narrow(0, a, std::min(kRows, z.size(0) - a))).argmin(0));
    out.push_back(ids.empty() ? at::empty({0}, x.options().dtype(at::kLong)) : at::cat(ids));
  }
  return at::stack(out).view({p.size(0), B, T}).permute({1, 0, 2}).contiguous();
}

}  // namespace musefm
