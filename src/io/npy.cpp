// .npy reader (defensive) and writer (atomic).
#include "musefm/npy.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/atomic_file.h"
#include "io/npy_writer.h"
#include "musefm/error.h"

namespace musefm {
namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMaxHeader = 1 << 20;

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + ",";
  if (shape.size() > 1) s.pop_back();
  return s + ")";
}

// Returns the value text of `key` in a Python dict literal header, or "" when absent.
std::string dict_value(const std::string& header, const std::string& key, const std::string& name) {
  const std::string quoted = "'" + key + "'";
  const auto k = header.find(quoted);
  if (k == std::string::npos) return "";
  auto p = header.find(':', k + quoted.size());
  MUSEFM_CHECK(p != std::string::npos, "npy '", name, "': malformed header near '", key, "'");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  MUSEFM_CHECK(p < header.size(), "npy '", name, "': malformed header near '", key, "'");
  size_t end;
  if (header[p] == '\'') {
    end = header.find('\'', p + 1);
    MUSEFM_CHECK(end != std::string::npos, "npy '", name, "': unterminated string in header");
    return header.substr(p + 1, end - p - 1);
  }
  if (header[p] == '(') {
    end = header.find(')', p);
    MUSEFM_CHECK(end != std::string::npos, "npy '", name, "': unterminated shape tuple");
    return header.substr(p, end - p + 1);
  }
  end = header.find_first_of(",}", p);
  MUSEFM_CHECK(end != std::string::npos, "npy '", name, "': malformed header near '", key, "'");
  return header.substr(p, end - p);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& name) {
  std::vector<int64_t> shape;
  MUSEFM_CHECK(text.size() >= 2 && text.front() == '(' && text.back() == ')', "npy '", name,
               "': shape must be a tuple, got '", text, "'");
  std::string inner = text.substr(1, text.size() - 2);
  std::stringstream ss(inner);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b == std::string::npos) continue;
    item = item.substr(b, e - b + 1);
    MUSEFM_CHECK(!item.empty() && item.size() <= 18 &&
                     item.find_first_not_of("0123456789") == std::string::npos,
                 "npy '", name, "': invalid dimension '", item, "' in shape");
    shape.push_back(std::stoll(item));
  }
  MUSEFM_CHECK(shape.size() <= 32, "npy '", name, "': too many dimensions (", shape.size(), ")");
  return shape;
}

template <typename T>
void convert(const unsigned char* p, int64_t n, bool swap, std::vector<float>& out) {
  out.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, p + i * int64_t(sizeof(T)), sizeof(T));
    if (swap)
      for (size_t k = 0; k < sizeof(T) / 2; ++k) std::swap(b[k], b[sizeof(T) - 1 - k]);
    T v;
    std::memcpy(&v, b, sizeof(T));
    out[size_t(i)] = static_cast<float>(v);
  }
}
}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

NpyArray parse_npy(const void* bytes, std::size_t size, const std::string& name) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  MUSEFM_CHECK(size >= 10 && std::memcmp(p, kMagic, 6) == 0, "npy '", name,
               "': not a .npy file (bad magic)");
  const int major = p[6];
  MUSEFM_CHECK(major >= 1 && major <= 3, "npy '", name, "': unsupported format version ", major);
  size_t header_len, offset;
  if (major == 1) {
    header_len = size_t(p[8]) | size_t(p[9]) << 8;
    offset = 10;
  } else {
    MUSEFM_CHECK(size >= 12, "npy '", name, "': truncated header");
    header_len = size_t(p[8]) | size_t(p[9]) << 8 | size_t(p[10]) << 16 | size_t(p[11]) << 24;
    offset = 12;
  }
  MUSEFM_CHECK(header_len <= kMaxHeader && offset + header_len <= size, "npy '", name,
               "': header length ", header_len, " exceeds the file");
  const std::string header(reinterpret_cast<const char*>(p + offset), header_len);
  NpyArray a;
  a.dtype = dict_value(header, "descr", name);
  const std::string fortran = dict_value(header, "fortran_order", name);
  MUSEFM_CHECK(!a.dtype.empty(), "npy '", name, "': header has no 'descr'");
  MUSEFM_CHECK(fortran == "False", "npy '", name, "': only C-order arrays are supported");
  const std::string shape_text = dict_value(header, "shape", name);
  MUSEFM_CHECK(!shape_text.empty(), "npy '", name, "': header has no 'shape'");
  a.shape = parse_shape(shape_text, name);
  int64_t n = 1;
  for (auto d : a.shape) {
    MUSEFM_CHECK(d == 0 || n <= std::numeric_limits<int64_t>::max() / 8 / d, "npy '", name,
                 "': shape ", shape_string(a.shape), " is too large");
    n *= d;
  }
  MUSEFM_CHECK(a.dtype.size() >= 3, "npy '", name, "': unsupported dtype '", a.dtype, "'");
  const char order = a.dtype[0], kind = a.dtype[1];
  const std::string width = a.dtype.substr(2);
  MUSEFM_CHECK(order == '<' || order == '>' || order == '|' || order == '=', "npy '", name,
               "': unsupported byte order in dtype '", a.dtype, "'");
  const bool swap = order == '>';
  size_t item = 0;
  if (width == "1")
    item = 1;
  else if (width == "2")
    item = 2;
  else if (width == "4")
    item = 4;
  else if (width == "8")
    item = 8;
  MUSEFM_CHECK(
      item > 0 && (kind == 'f' || kind == 'i' || kind == 'u') && !(kind == 'f' && item < 4),
      "npy '", name, "': unsupported dtype '", a.dtype,
      "' (expected float32/64 or an integer type)");
  const size_t data_bytes = size - offset - header_len;
  MUSEFM_CHECK(uint64_t(n) * item == data_bytes, "npy '", name, "': shape ", shape_string(a.shape),
               " of ", a.dtype, " needs ", uint64_t(n) * item, " bytes but the file holds ",
               data_bytes, " (truncated or corrupt)");
  const unsigned char* d = p + offset + header_len;
  if (kind == 'f' && item == 4)
    convert<float>(d, n, swap, a.data);
  else if (kind == 'f')
    convert<double>(d, n, swap, a.data);
  else if (kind == 'i' && item == 1)
    convert<int8_t>(d, n, false, a.data);
  else if (kind == 'i' && item == 2)
    convert<int16_t>(d, n, swap, a.data);
  else if (kind == 'i' && item == 4)
    convert<int32_t>(d, n, swap, a.data);
  else if (kind == 'i')
    convert<int64_t>(d, n, swap, a.data);
  else if (item == 1)
    convert<uint8_t>(d, n, false, a.data);
  else if (item == 2)
    convert<uint16_t>(d, n, swap, a.data);
  else if (item == 4)
    convert<uint32_t>(d, n, swap, a.data);
  else
    convert<uint64_t>(d, n, swap, a.data);
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MUSEFM_CHECK(in.good(), "cannot open '", path,
               "': ", std::filesystem::exists(path) ? "permission denied" : "no such file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(bytes.data(), bytes.size(), path);
}

namespace {
// Magic, version 1.0, header length and the padded header for a float32 C-order array.
std::string npy_prefix(const std::vector<int64_t>& shape, const std::string& path) {
  for (auto d : shape) MUSEFM_CHECK(d >= 0, "write_npy '", path, "': negative dimension in shape");
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_string(shape) + ", }";
  // Pad with spaces so magic + len + header + '\n' is a multiple of 64 (NEP 1 alignment).
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string prefix(kMagic, 6);
  prefix.push_back(char(1));
  prefix.push_back(char(0));
  prefix.push_back(char(header.size() & 0xff));
  prefix.push_back(char((header.size() >> 8) & 0xff));
  return prefix + header;
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}
}  // namespace

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  const std::string prefix = npy_prefix(shape, path);
  io_detail::AtomicFile out(path);
  out.write(prefix.data(), prefix.size());
  out.write(reinterpret_cast<const char*>(data), size_t(element_count(shape)) * sizeof(float));
  out.commit();
}

namespace io_detail {

NpyFileWriter::NpyFileWriter(const std::string& path, std::vector<int64_t> shape)
    : path_(path), shape_(std::move(shape)), file_(path) {
  const std::string prefix = npy_prefix(shape_, path);
  file_.write(prefix.data(), prefix.size());
  data_offset_ = prefix.size();
  size_ = element_count(shape_);
  if (size_ > 0) {  // reserve the whole array (zeros) so later blocks may land anywhere
    const float zero = 0;
    file_.write_at(data_offset_ + uint64_t(size_ - 1) * sizeof(float), &zero, sizeof zero);
  }
}

void NpyFileWriter::write(int64_t offset, const float* data, int64_t count) {
  MUSEFM_CHECK(offset >= 0 && count >= 0 && offset + count <= size_, "write_npy '", path_,
               "': block [", offset, ", ", offset + count, ") outside the array of ", size_,
               " values");
  file_.write_at(data_offset_ + uint64_t(offset) * sizeof(float), data,
                 size_t(count) * sizeof(float));
}

void NpyFileWriter::commit() { file_.commit(); }

}  // namespace io_detail

}  // namespace musefm
