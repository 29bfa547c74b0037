#include "support/test_support.h"

#include "musefm/error.h"
#include "musefm/safetensors.h"

#include <ftw.h>
#include <sndfile.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "musefm/audio.h"
#include "musefm/features.h"
#include "musefm/npy.h"

namespace musefm::test {
namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return std::string(MUSEFM_FIXTURES_DIR) + "/" + name;
}
std::string rendered(const std::string& name) {
  return std::string(MUSEFM_RENDER_DIR) + "/" + name;
}

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    std::string tmpl = (fs::temp_directory_path() / "musefm-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  // POSIX removal: at exit, std::filesystem::remove_all may bind to the copy libtorch.so
  // exports, which crashes once torch's statics are gone.
  ~TempRoot() {
    ::nftw(
        path.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
};
}  // namespace

std::string temp_dir() {
  static TempRoot root;
  static int counter = 0;
  std::string dir = root.path + "/" + std::to_string(counter++);
  fs::create_directories(dir);
  return dir;
}

at::Tensor load_npy(const std::string& path) {
  NpyArray a = read_npy(path);
  return at::from_blob(a.data.data(), a.shape, at::kFloat).clone();
}

at::Tensor load_wav(const std::string& path, int* sample_rate) {
  AudioLoadOptions opt;
  opt.target_rate = 0;
  Audio a = load_audio(path, opt);
  if (sample_rate) *sample_rate = a.sample_rate;
  return waveform_tensor(a);
}

double max_rel_error(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return 1e30;
  const double scale = b.abs().max().item<double>();
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() / scale;
}

void write_sndfile(const std::string& path, const std::vector<float>& x, int channels, int rate,
                   int format) {
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = rate;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(std::string("sf_open: ") + sf_strerror(nullptr));
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  sf_writef_float(f, x.data(), sf_count_t(x.size() / size_t(channels)));
  sf_close(f);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run_cli(const std::string& args, std::string* output) {
  const std::string log = temp_dir() + "/cli_log.txt";
  const std::string cmd = std::string(MUSEFM_CLI) + " " + args + " > " + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  if (output) *output = read_bytes(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::map<std::string, at::Tensor> model_weights(const std::string& name) {
  const auto f = SafeTensorsFile::open(fixture("encoders/" + name) + "/model.safetensors");
  std::map<std::string, at::Tensor> w;
  for (const auto& t : f.tensors()) w[t.name] = f.get(t.name).clone();
  return w;
}

}  // namespace musefm::test
