// Memory-mapped safetensors reading and atomic writing.
#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "musefm/safetensors.h"

namespace musefm {
namespace {

at::ScalarType scalar_type(SafeDType d) {
  switch (d) {
    case SafeDType::F64:
      return at::kDouble;
    case SafeDType::F32:
      return at::kFloat;
    case SafeDType::F16:
      return at::kHalf;
    case SafeDType::BF16:
      return at::kBFloat16;
    case SafeDType::I64:
      return at::kLong;
    case SafeDType::I32:
      return at::kInt;
    case SafeDType::I16:
      return at::kShort;
    case SafeDType::I8:
      return at::kChar;
    case SafeDType::U8:
      return at::kByte;
    case SafeDType::BOOL:
      return at::kBool;
  }
  return at::kFloat;
}

SafeDType safe_dtype(at::ScalarType t, const std::string& name) {
  switch (t) {
    case at::kDouble:
      return SafeDType::F64;
    case at::kFloat:
      return SafeDType::F32;
    case at::kHalf:
      return SafeDType::F16;
    case at::kBFloat16:
      return SafeDType::BF16;
    case at::kLong:
      return SafeDType::I64;
    case at::kInt:
      return SafeDType::I32;
    case at::kShort:
      return SafeDType::I16;
    case at::kChar:
      return SafeDType::I8;
    case at::kByte:
      return SafeDType::U8;
    case at::kBool:
      return SafeDType::BOOL;
    default:
      break;
  }
  MUSEFM_FAIL("save_safetensors: tensor '", name, "' has unsupported dtype ", c10::toString(t));
}

}  // namespace

struct SafeTensorsFile::Mapping {
  void* data = MAP_FAILED;
  std::size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) ::munmap(data, size);
  }
};

SafeTensorsFile SafeTensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MUSEFM_CHECK(fd >= 0, "cannot open '", path,
               "': ", errno == ENOENT ? "no such file" : std::strerror(errno));
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  auto mapping = std::make_shared<Mapping>();
  if (stat_ok && S_ISREG(st.st_mode) && st.st_size > 0) {
    mapping->size = std::size_t(st.st_size);
    mapping->data = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  MUSEFM_CHECK(stat_ok && S_ISREG(st.st_mode), "cannot read '", path, "': not a regular file");
  MUSEFM_CHECK(st.st_size > 0, "safetensors '", path, "': file is empty (0 bytes)");
  MUSEFM_CHECK(mapping->data != MAP_FAILED, "cannot map '", path, "': ", std::strerror(errno));
  SafeTensorsFile f;
  f.path_ = path;
  f.header_ = parse_safetensors_header(mapping->data, mapping->size, path);
  f.mapping_ = std::move(mapping);
  for (std::size_t i = 0; i < f.header_.tensors.size(); ++i)
    f.index_[f.header_.tensors[i].name] = i;
  return f;
}

bool SafeTensorsFile::contains(const std::string& name) const { return index_.count(name) > 0; }

const SafeTensorInfo& SafeTensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  MUSEFM_CHECK(it != index_.end(), "safetensors '", path_, "': no tensor named '", name, "'");
  return header_.tensors[it->second];
}

at::Tensor SafeTensorsFile::get(const std::string& name) const {
  const SafeTensorInfo& t = info(name);
  auto* base = static_cast<char*>(mapping_->data) + header_.data_start + t.begin;
  const auto type = scalar_type(t.dtype);
  const auto options = at::TensorOptions().dtype(type);
  if (t.numel() == 0) return at::empty(t.shape, options);
  if (reinterpret_cast<std::uintptr_t>(base) % element_size(t.dtype) != 0)  // unaligned: copy
    return at::from_blob(base, {int64_t(t.end - t.begin)}, at::kByte)
        .clone()
        .view(type)
        .view(t.shape);
  auto keep = mapping_;  // the tensor owns a reference to the mapping
  return at::from_blob(
      base, t.shape, [keep](void*) {}, options);
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    MUSEFM_CHECK(!name.empty() && name != "__metadata__", "save_safetensors '", path,
                 "': invalid tensor name '", name, "'");
    MUSEFM_CHECK(names.insert(name).second, "save_safetensors '", path, "': duplicate tensor '",
                 name, "'");
    MUSEFM_CHECK(tensor.defined(), "save_safetensors '", path, "': tensor '", name,
                 "' is undefined");
    const SafeDType dt = safe_dtype(tensor.scalar_type(), name);
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = uint64_t(t.numel()) * element_size(dt);
    header[name] = {{"dtype", to_string(dt)},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<unsigned char>((uint64_t(text.size()) >> (8 * i)) & 0xff);
  io_detail::AtomicFile out(path);
  out.write(len, 8);
  out.write(text.data(), text.size());
  for (const auto& t : data) out.write(t.data_ptr(), std::size_t(t.nbytes()));
  out.commit();
}

}  // namespace musefm
