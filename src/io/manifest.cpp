#include "musefm/manifest.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace musefm {
namespace fs = std::filesystem;

std::vector<ManifestEntry> parse_manifest(const std::string& text, const std::string& name,
                                          const std::string& base_dir) {
  std::istringstream in(text);
  std::string root;
  MUSEFM_CHECK(std::getline(in, root), "manifest '", name,
               "': the first line must be the root folder of the audio files");
  if (!root.empty() && root.back() == '\r') root.pop_back();
  MUSEFM_CHECK(!root.empty() && root.find('\t') == std::string::npos, "manifest '", name,
               "': the first line must be the root folder of the audio files, got '", root, "'");
  fs::path base(root);
  std::error_code ec;
  if (base.is_relative() && !fs::exists(base, ec) && !base_dir.empty())
    base = fs::path(base_dir) / base;
  std::vector<ManifestEntry> out;
  std::string line;
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    MUSEFM_CHECK(tab != std::string::npos && tab > 0, "manifest '", name, "' line ", lineno,
                 ": expected 'relative/path<TAB>num_samples', got '", line, "'");
    const std::string rel = line.substr(0, tab), count = line.substr(tab + 1);
    MUSEFM_CHECK(!count.empty() && count.size() <= 18 &&
                     count.find_first_not_of("0123456789") == std::string::npos,
                 "manifest '", name, "' line ", lineno, ": num_samples '", count,
                 "' is not a non-negative integer");
    bool inside = fs::path(rel).is_relative();
    for (const auto& part : fs::path(rel)) inside = inside && part != "..";
    MUSEFM_CHECK(inside, "manifest '", name, "' line ", lineno, ": '", rel,
                 "' must be a path inside the root folder");
    out.push_back({(base / rel).string(), rel, std::stoll(count)});
  }
  MUSEFM_CHECK(!out.empty(), "manifest '", name, "' lists no audio files");
  return out;
}

std::vector<ManifestEntry> read_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot read manifest '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_manifest(ss.str(), path, fs::path(path).parent_path().string());
}

}  // namespace musefm
