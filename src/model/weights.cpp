#include "model/weights.h"

#include <filesystem>
#include <sstream>

#include "model/hybrid.h"
#include "musefm/error.h"
#include "musefm/safetensors.h"

namespace musefm::model_detail {
namespace {
std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os.str() + "]";
}

// Lists up to 8 names, then "... and N more".
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 8) out += ", ... and " + std::to_string(names.size() - 8) + " more";
  return out;
}
}  // namespace

WeightSpec mert_weight_spec(const EncoderConfig& c) {
  WeightSpec spec;
  auto& s = spec.shapes;
  int64_t in = 1;
  for (size_t i = 0; i < c.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    const int64_t out = c.conv_dim[i];
    s[p + ".conv.weight"] = {out, in, c.conv_kernel[i]};
    if (c.conv_bias) s[p + ".conv.bias"] = {out};
    if (c.feat_extract_norm == FeatExtractNorm::Layer || i == 0) {
      s[p + ".layer_norm.weight"] = {out};
      s[p + ".layer_norm.bias"] = {out};
    }
    in = out;
  }
  const int64_t H = c.hidden_size, F = c.intermediate_size;
  in += hybrid_concat_width(c);
  add_hybrid_weights(c, spec);
  if (c.feat_proj_layer_norm) {
    s["feature_projection.layer_norm.weight"] = {in};
    s["feature_projection.layer_norm.bias"] = {in};
  }
  s["feature_projection.projection.weight"] = {H, in};
  s["feature_projection.projection.bias"] = {H};
  s["encoder.pos_conv_embed.conv.weight"] = {H, H / c.num_conv_pos_embedding_groups,
                                             c.num_conv_pos_embeddings};
  s["encoder.pos_conv_embed.conv.bias"] = {H};
  s["encoder.layer_norm.weight"] = {H};
  s["encoder.layer_norm.bias"] = {H};
  for (int n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "encoder.layers." + std::to_string(n);
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      s[p + ".attention." + proj + ".weight"] = {H, H};
      s[p + ".attention." + proj + ".bias"] = {H};
    }
    for (const char* ln : {".layer_norm", ".final_layer_norm"}) {
      s[p + ln + ".weight"] = {H};
      s[p + ln + ".bias"] = {H};
    }
    s[p + ".feed_forward.intermediate_dense.weight"] = {F, H};
    s[p + ".feed_forward.intermediate_dense.bias"] = {F};
    s[p + ".feed_forward.output_dense.weight"] = {H, F};
    s[p + ".feed_forward.output_dense.bias"] = {H};
  }
  s["masked_spec_embed"] = {H};  // training-only mask embedding
  spec.optional.insert("masked_spec_embed");
  spec.unused.insert("masked_spec_embed");
  return spec;
}

void fold_weight_norm(Weights& w, const std::string& prefix, int64_t dim,
                      const std::string& source) {
  std::string g_key = prefix + ".weight_g", v_key = prefix + ".weight_v";
  if (!w.count(g_key)) {
    g_key = prefix + ".parametrizations.weight.original0";
    v_key = prefix + ".parametrizations.weight.original1";
  }
  if (!w.count(g_key) && !w.count(v_key)) return;  // already folded (or missing: reported later)
  MUSEFM_CHECK(w.count(g_key) && w.count(v_key), source, ": weight norm of '", prefix,
               "' needs both ", g_key, " and ", v_key);
  const at::Tensor g = w.at(g_key).to(at::kFloat), v = w.at(v_key).to(at::kFloat);
  MUSEFM_CHECK(v.dim() > dim && g.numel() == v.size(dim), source, ": weight norm of '", prefix,
               "': ", g_key, " ", shape_str(g.sizes()), " does not match ", v_key, " ",
               shape_str(v.sizes()));
  std::vector<int64_t> reduce;
  for (int64_t d = 0; d < v.dim(); ++d)
    if (d != dim) reduce.push_back(d);
  const at::Tensor norm = v.pow(2).sum(reduce, /*keepdim=*/true).sqrt();
  w[prefix + ".weight"] = g.reshape(norm.sizes()) * v / norm;
  w.erase(g_key);
  w.erase(v_key);
}

static bool shape_matches(at::IntArrayRef actual, const std::vector<int64_t>& expected) {
  if (actual.size() != expected.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i)
    if (expected[i] != -1 && expected[i] != actual[i]) return false;
  return true;
}

Weights checked_weights(const Weights& w, const WeightSpec& spec, const at::Device& device,
                        const std::string& source) {
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& [name, shape] : spec.shapes) {
    auto it = w.find(name);
    if (it == w.end()) {
      if (!spec.optional.count(name)) missing.push_back(name);
    } else if (!shape_matches(it->second.sizes(), shape)) {
      misshaped.push_back(name + " " + shape_str(it->second.sizes()) + " (expected " +
                          shape_str(shape) + ")");
    }
  }
  for (const auto& [name, t] : w)
    if (!spec.shapes.count(name)) unexpected.push_back(name);
  std::string problems;
  if (!missing.empty()) problems += "\n  missing: " + name_list(missing);
  if (!unexpected.empty()) problems += "\n  unexpected: " + name_list(unexpected);
  if (!misshaped.empty()) problems += "\n  wrong shape: " + name_list(misshaped);
  MUSEFM_CHECK(problems.empty(), source, ": weights do not match the config:", problems);
  Weights out;
  for (const auto& [name, t] : w) {
    if (spec.unused.count(name)) continue;
    MUSEFM_CHECK(at::isFloatingType(t.scalar_type()), source, ": tensor '", name,
                 "' must be floating point, got ", c10::toString(t.scalar_type()));
    out[name] = t.to(device, at::kFloat).contiguous();
  }
  return out;
}

ModelDirPaths model_dir_paths(const std::string& dir) {
  namespace fs = std::filesystem;
  MUSEFM_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  return {(fs::path(dir) / "config.json").string(), (fs::path(dir) / "model.safetensors").string()};
}

Weights read_weights(const std::string& path, const std::function<bool(const std::string&)>& keep) {
  const SafeTensorsFile file = SafeTensorsFile::open(path);
  Weights w;
  for (const auto& t : file.tensors())
    if (!keep || keep(t.name)) w[t.name] = file.get(t.name);
  return w;
}

}  // namespace musefm::model_detail
