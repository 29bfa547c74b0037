// fairseq label sets: writing and `--verify` checks, each problem named with file and line.
#include <gtest/gtest.h>

#include <string>

#include "musefm/error.h"
#include "musefm/teachers.h"
#include "support/test_support.h"

namespace {
using musefm::test::read_bytes;
using musefm::test::write_bytes;

struct LabelDir {
  std::string dir = musefm::test::temp_dir();
  std::string manifest = dir + "/train.tsv";
  LabelDir() {
    // Two entries at 24 kHz: 1 s and 0.5 s -> 75 and 38 labels at 75 Hz.
    write_bytes(manifest, "/audio\na.wav\t24000\nsub/b.wav\t12000\n");
  }
  musefm::LabelCheck verify(const std::string& labels, const std::string& dict) {
    write_bytes(dir + "/train.km", labels);
    write_bytes(dir + "/dict.km.txt", dict);
    return musefm::verify_labels(manifest, dir + "/train.km", dir + "/dict.km.txt", 75.0, 0.1,
                                 24000);
  }
};

std::string ids(int n, int v = 1) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + std::to_string(v);
  return s;
}

bool mentions(const musefm::LabelCheck& c, const std::string& what) {
  for (const auto& p : c.problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}

std::string all(const musefm::LabelCheck& c) {
  std::string s;
  for (const auto& p : c.problems) s += p + "\n";
  return s;
}

TEST(Labels, WrittenSetVerifies) {
  LabelDir d;
  musefm::LabelFile f{"km", {std::vector<int64_t>(75, 3), std::vector<int64_t>(38, 0)}};
  f.lines[0][10] = 99;
  musefm::write_label_file(d.dir, "train", f, 100);
  EXPECT_EQ(read_bytes(d.dir + "/dict.km.txt").substr(0, 12), "0 1\n1 1\n2 1\n");
  const std::string text = read_bytes(d.dir + "/train.km");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  const auto c = musefm::verify_labels(d.manifest, d.dir + "/train.km", d.dir + "/dict.km.txt", 75,
                                       0.1, 24000);
  EXPECT_TRUE(c.ok()) << all(c);
  EXPECT_EQ(c.lines, 2);
  EXPECT_EQ(c.k, 100);
}

TEST(Labels, WriterRejectsIdsOutsideTheDictionary) {
  LabelDir d;
  EXPECT_THROW(musefm::write_label_file(d.dir, "train", {"km", {{0, 5}}}, 5), musefm::Error);
  EXPECT_THROW(musefm::write_label_file(d.dir, "train", {"km", {{}}}, 5), musefm::Error);
}

TEST(Labels, VerifyNamesEachProblem) {
  LabelDir d;
  const std::string dict = "0 1\n1 1\n2 1\n";
  // Line count.
  auto c = d.verify(ids(75) + "\n", dict);
  EXPECT_TRUE(mentions(c, "1 lines for 2 manifest entries")) << all(c);
  // Frames vs duration (0.5 s of audio, 1 s of labels) names line 2 and the file.
  c = d.verify(ids(75) + "\n" + ids(75) + "\n", dict);
  EXPECT_TRUE(mentions(c, "train.km:2 (sub/b.wav): 75 labels")) << all(c);
  EXPECT_EQ(c.problems.size(), 1u) << all(c);
  // Within tolerance: 38 vs 37.5 labels passes.
  EXPECT_TRUE(d.verify(ids(75) + "\n" + ids(38) + "\n", dict).ok());
  // Unknown label -> would be <unk>.
  c = d.verify(ids(75) + "\n" + ids(38, 7) + "\n", dict);
  EXPECT_TRUE(mentions(c, "label '7' is not in")) << all(c);
  // Empty line.
  c = d.verify(ids(75) + "\n\n", dict);
  EXPECT_TRUE(mentions(c, "train.km:2 (sub/b.wav): empty line")) << all(c);
  // Empty dictionary, duplicate and malformed dictionary lines.
  c = d.verify(ids(75) + "\n" + ids(38) + "\n", "");
  EXPECT_TRUE(mentions(c, "the dictionary is empty")) << all(c);
  c = d.verify(ids(75) + "\n" + ids(38) + "\n", "0 1\n1 1\n1 1\n2\n");
  EXPECT_TRUE(mentions(c, "dict.km.txt:3: symbol '1' listed twice")) << all(c);
  EXPECT_TRUE(mentions(c, "dict.km.txt:4: expected '<symbol> <count>'")) << all(c);
}

TEST(Labels, MissingFilesAndBadRatesThrow) {
  LabelDir d;
  EXPECT_THROW(
      musefm::verify_labels(d.manifest, d.dir + "/none.km", d.dir + "/none.txt", 75, 0.1, 24000),
      musefm::Error);
  write_bytes(d.dir + "/dict.km.txt", "0 1\n");
  write_bytes(d.dir + "/train.km", "0\n0\n");
  EXPECT_THROW(
      musefm::verify_labels(d.manifest, d.dir + "/train.km", d.dir + "/dict.km.txt", 0, 0.1, 24000),
      musefm::Error);
}

}  // namespace
