// safetensors header parsing and validation (no tensor data is read here).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

#include "musefm/safetensors.h"

namespace musefm {
namespace {
using nlohmann::json;
constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

struct DTypeName {
  SafeDType dtype;
  const char* name;
  std::size_t size;
};
constexpr DTypeName kDTypes[] = {{SafeDType::F64, "F64", 8}, {SafeDType::F32, "F32", 4},
                                 {SafeDType::F16, "F16", 2}, {SafeDType::BF16, "BF16", 2},
                                 {SafeDType::I64, "I64", 8}, {SafeDType::I32, "I32", 4},
                                 {SafeDType::I16, "I16", 2}, {SafeDType::I8, "I8", 1},
                                 {SafeDType::U8, "U8", 1},   {SafeDType::BOOL, "BOOL", 1}};

uint64_t checked_bytes(const std::vector<int64_t>& shape, std::size_t item, const std::string& file,
                       const std::string& tensor) {
  uint64_t n = item;
  for (int64_t d : shape) {
    MUSEFM_CHECK(d >= 0, "safetensors '", file, "': tensor '", tensor,
                 "' has a negative dimension");
    MUSEFM_CHECK(d == 0 || n <= std::numeric_limits<uint64_t>::max() / uint64_t(d), "safetensors '",
                 file, "': tensor '", tensor, "' shape overflows");
    n *= uint64_t(d);
  }
  return n;
}
}  // namespace

SafeDType parse_safe_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return d.dtype;
  MUSEFM_FAIL("unsupported safetensors dtype '", name, "'");
}

std::string to_string(SafeDType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}

std::size_t element_size(SafeDType dtype) {
  for (const auto& d : kDTypes)
    if (d.dtype == dtype) return d.size;
  return 0;
}

int64_t SafeTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafeTensorsHeader parse_safetensors_header(const void* bytes, std::size_t size,
                                           const std::string& file) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  MUSEFM_CHECK(size >= 8, "safetensors '", file, "': file too short (", size, " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | p[i];
  MUSEFM_CHECK(n >= 2 && n <= kMaxHeader, "safetensors '", file, "': invalid header length ", n);
  MUSEFM_CHECK(n <= size - 8, "safetensors '", file, "': header length ", n,
               " exceeds the file size ", size, " (truncated?)");
  MUSEFM_CHECK(p[8] == '{', "safetensors '", file, "': header is not a JSON object");
  json header;
  try {
    header = json::parse(p + 8, p + 8 + n);
  } catch (const json::exception& e) {
    MUSEFM_FAIL("safetensors '", file, "': invalid header JSON: ", e.what());
  }
  MUSEFM_CHECK(header.is_object(), "safetensors '", file, "': header is not a JSON object");
  SafeTensorsHeader out;
  out.data_start = 8 + n;
  const uint64_t data_size = size - out.data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      MUSEFM_CHECK(v.is_object(), "safetensors '", file, "': __metadata__ must be an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        MUSEFM_CHECK(m.value().is_string(), "safetensors '", file, "': __metadata__ value '",
                     m.key(), "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    MUSEFM_CHECK(!name.empty(), "safetensors '", file, "': empty tensor name");
    MUSEFM_CHECK(
        v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
        "safetensors '", file, "': tensor '", name, "' needs 'dtype', 'shape' and 'data_offsets'");
    const json &dt = v["dtype"], &sh = v["shape"], &off = v["data_offsets"];
    MUSEFM_CHECK(dt.is_string(), "safetensors '", file, "': tensor '", name,
                 "': dtype is not a string");
    MUSEFM_CHECK(sh.is_array() && sh.size() <= 64, "safetensors '", file, "': tensor '", name,
                 "': shape must be an array of at most 64 integers");
    MUSEFM_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() &&
                     off[1].is_number_unsigned(),
                 "safetensors '", file, "': tensor '", name,
                 "': data_offsets must be two non-negative integers");
    SafeTensorInfo info;
    info.name = name;
    try {
      info.dtype = parse_safe_dtype(dt.get<std::string>());
    } catch (const Error& e) {
      MUSEFM_FAIL("safetensors '", file, "': tensor '", name, "': ", e.what());
    }
    for (const auto& d : sh) {
      MUSEFM_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t(1) << 48,
                   "safetensors '", file, "': tensor '", name, "': invalid dimension ", d.dump());
      info.shape.push_back(int64_t(d.get<uint64_t>()));
    }
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    MUSEFM_CHECK(info.begin <= info.end && info.end <= data_size, "safetensors '", file,
                 "': tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
                 ") outside the data buffer of ", data_size, " bytes");
    const uint64_t bytes_needed = checked_bytes(info.shape, element_size(info.dtype), file, name);
    MUSEFM_CHECK(bytes_needed == info.end - info.begin, "safetensors '", file, "': tensor '", name,
                 "': shape needs ", bytes_needed, " bytes of ", to_string(info.dtype), " but ",
                 info.end - info.begin, " are given");
    out.tensors.push_back(std::move(info));
  }
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const SafeTensorInfo& a, const SafeTensorInfo& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t expected = 0;  // the tensors must tile the buffer: no holes, no overlaps
  for (const auto& t : out.tensors) {
    MUSEFM_CHECK(t.begin == expected, "safetensors '", file, "': tensor '", t.name,
                 "' starts at byte ", t.begin, " but the previous data ends at ", expected,
                 t.begin < expected ? " (overlap)" : " (gap)");
    expected = t.end;
  }
  MUSEFM_CHECK(expected == data_size, "safetensors '", file, "': ", data_size - expected,
               " trailing bytes after the last tensor");
  return out;
}

}  // namespace musefm
