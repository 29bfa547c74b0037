// Locating and checking the shipped default model (no torch here).
#include "musefm/default_model.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/hash.h"
#include "musefm/error.h"

namespace musefm {
namespace fs = std::filesystem;

namespace {

const char* kRebuild =
    "rebuild it with benchmarks/train_default_model.sh, restore it with "
    "`git checkout -- models/` in the source tree, or pass --model DIR";

bool is_model_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p / "config.json", ec) &&
         fs::is_regular_file(p / "model.safetensors", ec);
}

// share/musefm/models/<name> in the install prefix of the loaded libmusefm: the first of
// <lib dir>/.., <lib dir>/../.. (lib/<multiarch>) that holds it.
std::string beside_library() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&default_model_dir), &info) == 0 || !info.dli_fname) return {};
  fs::path prefix = fs::absolute(info.dli_fname).parent_path();
  for (int up = 0; up < 2; ++up) {
    prefix = prefix.parent_path();
    const fs::path p = prefix / "share" / "musefm" / "models" / kDefaultModelName;
    if (is_model_dir(p)) return p.string();
  }
  return {};
}

}  // namespace

std::string default_model_dir() {
  std::vector<std::string> places;
  if (const char* env = std::getenv("MUSEFM_DEFAULT_MODEL"); env && *env) {
    MUSEFM_CHECK(is_model_dir(env), "MUSEFM_DEFAULT_MODEL='", env,
                 "' is not a model directory (config.json + model.safetensors)");
    return env;
  }
  places.push_back(beside_library());
#ifdef MUSEFM_INSTALL_MODELS_DIR
  places.push_back(std::string(MUSEFM_INSTALL_MODELS_DIR) + "/" + kDefaultModelName);
#endif
#ifdef MUSEFM_SOURCE_MODELS_DIR
  places.push_back(std::string(MUSEFM_SOURCE_MODELS_DIR) + "/" + kDefaultModelName);
#endif
  std::string looked;
  for (const auto& p : places) {
    if (p.empty()) continue;
    if (is_model_dir(p)) return p;
    looked += (looked.empty() ? "" : ", ") + p;
  }
  MUSEFM_FAIL("the default model '", kDefaultModelName, "' is missing (looked in ", looked,
              "; MUSEFM_DEFAULT_MODEL is unset): ", kRebuild);
}

std::string file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot read '", path, "'");
  detail::Fnv1a64 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    h.add_bytes(buf.data(), size_t(in.gcount()));
  }
  return "fnv1a64:" + h.hex();
}

void verify_model_checksums(const std::string& model_dir) {
  const fs::path list = fs::path(model_dir) / "checksums.json";
  if (!fs::exists(list)) return;
  nlohmann::json j;
  try {
    std::ifstream in(list);
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    MUSEFM_FAIL(list.string(), ": not valid JSON (", e.what(), "): ", kRebuild);
  }
  MUSEFM_CHECK(j.is_object(), list.string(), ": expected an object {\"file\": \"fnv1a64:...\"}");
  for (const auto& [name, want] : j.items()) {
    MUSEFM_CHECK(want.is_string(), list.string(), ": the checksum of '", name, "' is not a string");
    MUSEFM_CHECK(name.find('/') == std::string::npos && name != "..", list.string(), ": '", name,
                 "' is not a file name inside the model dir");
    const fs::path file = fs::path(model_dir) / name;
    MUSEFM_CHECK(fs::exists(file), file.string(),
                 " is missing (listed in checksums.json): ", kRebuild);
    const std::string got = file_checksum(file.string());
    MUSEFM_CHECK(got == want.get<std::string>(), file.string(),
                 " is corrupted or was changed: ", got, " but checksums.json says ",
                 want.get<std::string>(), "; ", kRebuild);
  }
}

}  // namespace musefm
