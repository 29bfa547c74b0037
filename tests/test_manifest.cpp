// fairseq manifest parser: entries, relative roots, and errors that name the file and line.
#include <gtest/gtest.h>

#include "musefm/manifest.h"

namespace musefm {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_manifest(text, "train.tsv");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Manifest, ParsesEntriesUnderTheRoot) {
  const auto e = parse_manifest("/data/music\r\nrock/a.flac\t480000\n\njazz/b.wav\t7\n", "m.tsv");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].path, "/data/music/rock/a.flac");
  EXPECT_EQ(e[0].relative, "rock/a.flac");
  EXPECT_EQ(e[0].num_samples, 480000);
  EXPECT_EQ(e[1].num_samples, 7);
  EXPECT_EQ(parse_manifest("audio\nx.wav\t1\n", "m.tsv", "/base")[0].path, "/base/audio/x.wav");
}

TEST(Manifest, ErrorsNameTheLineAndTheProblem) {
  EXPECT_NE(error_of("").find("first line must be the root folder"), std::string::npos);
  EXPECT_NE(error_of("/d\n").find("lists no audio files"), std::string::npos);
  EXPECT_NE(error_of("/d\na.wav 12\n").find("train.tsv' line 2: expected"), std::string::npos);
  EXPECT_NE(error_of("/d\na.wav\t-3\n").find("line 2: num_samples '-3'"), std::string::npos);
  EXPECT_NE(error_of("/d\na.wav\t99999999999999999999\n").find("num_samples"), std::string::npos);
  EXPECT_NE(
      error_of("/d\nok.wav\t1\n../x.wav\t1\n").find("line 3: '../x.wav' must be a path inside"),
      std::string::npos);
  EXPECT_NE(error_of("/d\n/etc/passwd\t1\n").find("must be a path inside"), std::string::npos);
}

}  // namespace
}  // namespace musefm
