// libFuzzer target: fairseq label sets through `musefm teach --verify`'s checker. The input is
// split at its first NUL byte into a dictionary (dict.km.txt) and a label file (train.km),
// checked against a fixed three-entry manifest.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "musefm/teachers.h"

using musefm::fuzz::write_file;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    const std::string s = musefm::fuzz::make_scratch_dir("musefm-fuzz-labels");
    write_file(s + "/train.tsv", "/audio\na.wav\t24000\nb/c.wav\t12000\nd.wav\t1\n");
    return s;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t cut = text.find('\0');
  write_file(dir + "/dict.km.txt", cut == std::string::npos ? text : text.substr(0, cut));
  write_file(dir + "/train.km", cut == std::string::npos ? "" : text.substr(cut + 1));
  try {
    const musefm::LabelCheck c = musefm::verify_labels(dir + "/train.tsv", dir + "/train.km",
                                                       dir + "/dict.km.txt", 75.0, 0.1, 24000);
    if (c.problems.size() > 21) __builtin_trap();  // capped at 20 + a count line
  } catch (const musefm::Error&) {
  }
  return 0;
}
