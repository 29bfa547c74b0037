// Decoding with libsndfile: file and memory sources, header probing, error reporting.
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "audio/sndfile_source.h"
#include "musefm/error.h"

#include <unistd.h>

namespace musefm::audio_detail {
namespace {

namespace fs = std::filesystem;

void check_path_readable(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  MUSEFM_CHECK(fs::exists(status), "cannot open '", path, "': no such file");
  MUSEFM_CHECK(!fs::is_directory(status), "cannot open '", path, "': is a directory");
  MUSEFM_CHECK(::access(path.c_str(), R_OK) == 0, "cannot open '", path, "': permission denied");
  const auto size = fs::file_size(path, ec);
  MUSEFM_CHECK(ec || size > 0, "cannot decode '", path, "': file is empty (0 bytes)");
}

std::string format_name(int format, int command) {
  SF_FORMAT_INFO fi{};
  fi.format = format;
  if (sf_command(nullptr, command, &fi, sizeof(fi)) != 0 || !fi.name) return "unknown";
  return fi.name;
}

}  // namespace

SndSource::~SndSource() {
  if (handle_) sf_close(static_cast<SNDFILE*>(handle_));
}

std::unique_ptr<SndSource> SndSource::open_file(const std::string& path) {
  check_path_readable(path);
  std::unique_ptr<SndSource> src(new SndSource());
  SF_INFO sfinfo{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &sfinfo);
  if (!f) {
    MUSEFM_FAIL("cannot decode '", path,
                "': unsupported or corrupt audio file (libsndfile: ", sf_strerror(nullptr), ")");
  }
  src->handle_ = f;
  src->init_info(path);
  return src;
}

using MemoryView = SndSource::Memory;

namespace {
sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t vio_get_filelen(void* user) { return static_cast<MemoryView*>(user)->size; }
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryView*>(user);
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
  int64_t target = base + offset;
  if (target < 0 || target > m->size) return -1;
  m->pos = target;
  return m->pos;
}
sf_count_t vio_read(void* ptr, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryView*>(user);
  if (count <= 0) return 0;
  const int64_t n = std::min<int64_t>(count, m->size - m->pos);
  if (n <= 0) return 0;
  std::memcpy(ptr, m->data + m->pos, size_t(n));
  m->pos += n;
  return n;
}
sf_count_t vio_tell(void* user) { return static_cast<MemoryView*>(user)->pos; }
}  // namespace

std::unique_ptr<SndSource> SndSource::open_memory(const void* data, std::size_t size,
                                                  const std::string& name) {
  MUSEFM_CHECK(size > 0, "cannot decode '", name, "': file is empty (0 bytes)");
  std::unique_ptr<SndSource> src(new SndSource());
  src->memory_ = Memory{static_cast<const unsigned char*>(data), int64_t(size), 0};
  static SF_VIRTUAL_IO vio{vio_get_filelen, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO sfinfo{};
  SNDFILE* f = sf_open_virtual(&vio, SFM_READ, &sfinfo, &src->memory_);
  if (!f) {
    MUSEFM_FAIL("cannot decode '", name,
                "': unsupported or corrupt audio file (libsndfile: ", sf_strerror(nullptr), ")");
  }
  src->handle_ = f;
  src->init_info(name);
  return src;
}

namespace {
// libsndfile accepts a PCM file whose data chunk is shorter than its header declares (it
// trims the frame count and notes "data : N (should be M)" in its log). That is a truncated
// file; streamed headers (size 0 or 0xFFFFFFFF) are not.
void check_declared_data_size(SNDFILE* f, const std::string& name) {
  std::string log(16384, '\0');
  sf_command(f, SFC_GET_LOG_INFO, log.data(), int(log.size()));
  std::istringstream lines(log.c_str());
  std::string line;
  while (std::getline(lines, line)) {
    char chunk[8] = {0};
    unsigned long long declared = 0, actual = 0;
    if (std::sscanf(line.c_str(), " %4s : %llu (should be %llu)", chunk, &declared, &actual) != 3)
      continue;
    const std::string c = chunk;
    if ((c == "data" || c == "SSND") && declared > actual && declared != 0xFFFFFFFFull) {
      MUSEFM_FAIL("cannot decode '", name, "': truncated, the header declares ", declared,
                  " bytes of audio data but the file holds ", actual);
    }
  }
}
}  // namespace

void SndSource::init_info(const std::string& name) {
  auto* f = static_cast<SNDFILE*>(handle_);
  SF_INFO sfinfo{};
  sf_command(f, SFC_GET_CURRENT_SF_INFO, &sfinfo, sizeof(sfinfo));
  info_.path = name;
  info_.format = format_name(sfinfo.format & SF_FORMAT_TYPEMASK, SFC_GET_FORMAT_INFO);
  info_.subtype = format_name(sfinfo.format & SF_FORMAT_SUBMASK, SFC_GET_FORMAT_INFO);
  info_.sample_rate = sfinfo.samplerate;
  info_.channels = sfinfo.channels;
  info_.frames = sfinfo.frames;
  MUSEFM_CHECK(sfinfo.channels > 0 && sfinfo.channels <= 1024, "cannot decode '", name,
               "': invalid channel count ", sfinfo.channels);
  MUSEFM_CHECK(sfinfo.samplerate > 0 && sfinfo.samplerate <= 1536000, "cannot decode '", name,
               "': invalid sample rate ", sfinfo.samplerate);
  MUSEFM_CHECK(sfinfo.frames > 0, "cannot decode '", name, "': contains no audio samples");
  check_declared_data_size(f, name);
  const int sub = sfinfo.format & SF_FORMAT_SUBMASK;
  // Compressed streams (Vorbis, Opus, MPEG) may declare an estimated length.
  exact_length_ =
      !(sub == SF_FORMAT_VORBIS || sub == SF_FORMAT_OPUS || sub == SF_FORMAT_MPEG_LAYER_I ||
        sub == SF_FORMAT_MPEG_LAYER_II || sub == SF_FORMAT_MPEG_LAYER_III);
  // Integer data read as float is scaled to [-1, 1); float data is passed through.
  sf_command(f, SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
}

int64_t SndSource::read(int64_t frames, std::vector<float>& out) {
  auto* f = static_cast<SNDFILE*>(handle_);
  out.resize(size_t(frames) * size_t(info_.channels));
  const sf_count_t got = sf_readf_float(f, out.data(), frames);
  const int err = sf_error(f);
  if (err != SF_ERR_NO_ERROR) {
    MUSEFM_FAIL("cannot decode '", info_.path, "': corrupt data after frame ", decoded_,
                " (libsndfile: ", sf_strerror(f), ")");
  }
  MUSEFM_CHECK(got >= 0, "cannot decode '", info_.path, "': read error at frame ", decoded_);
  out.resize(size_t(got) * size_t(info_.channels));
  decoded_ += got;
  if (got == 0) check_complete();
  return got;
}

void SndSource::check_complete() const {
  MUSEFM_CHECK(decoded_ > 0, "cannot decode '", info_.path,
               "': no audio samples could be decoded (corrupt or truncated)");
  MUSEFM_CHECK(decoded_ >= info_.frames ||
                   (exact_length_ == false && decoded_ >= info_.frames - info_.frames / 100),
               "cannot decode '", info_.path, "': truncated, the header declares ", info_.frames,
               " frames but only ", decoded_, " could be decoded");
}

}  // namespace musefm::audio_detail

namespace musefm {

AudioInfo probe_audio(const std::string& path) {
  return audio_detail::SndSource::open_file(path)->info();
}

std::vector<float> mix_to_mono(const std::vector<float>& interleaved, int channels) {
  MUSEFM_CHECK(channels > 0, "mix_to_mono: channel count must be positive, got ", channels);
  if (channels == 1) return interleaved;
  const size_t frames = interleaved.size() / size_t(channels);
  std::vector<float> mono(frames);
  const float scale = 1.0f / float(channels);
  for (size_t i = 0; i < frames; ++i) {
    float acc = 0.0f;
    for (int c = 0; c < channels; ++c) acc += interleaved[i * size_t(channels) + size_t(c)];
    mono[i] = acc * scale;
  }
  return mono;
}

}  // namespace musefm
