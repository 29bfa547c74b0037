// .npy writer/reader: round trip, numpy-written fixtures, defensive parsing.
#include <gtest/gtest.h>

#include <filesystem>

#include "musefm/npy.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string parse_error(const std::string& bytes) {
  try {
    parse_npy(bytes.data(), bytes.size(), "x.npy");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string header(const std::string& dict) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h.push_back(' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  out.push_back(char(h.size() & 0xff));
  out.push_back(char(h.size() >> 8));
  return out + h;
}

TEST(Npy, RoundTrip) {
  const std::string p = test::temp_dir() + "/a.npy";
  std::vector<float> x{1.5f, -2.f, 3.25f, 0.f, 1e-30f, 7.f};
  write_npy(p, x.data(), {2, 3});
  const NpyArray a = read_npy(p);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.dtype, "<f4");
  EXPECT_EQ(a.data, x);
  EXPECT_FALSE(std::filesystem::exists(p + ".tmp." + std::to_string(::getpid())));
  write_npy(p, x.data(), {6});
  EXPECT_EQ(read_npy(p).shape, (std::vector<int64_t>{6}));
}

TEST(Npy, ReadsNumpyWrittenFixtures) {
  const NpyArray a = read_npy(test::fixture("cqt_mert.npy"));
  ASSERT_EQ(a.shape.size(), 2u);
  EXPECT_EQ(a.shape[0], 336);
  EXPECT_EQ(a.numel(), int64_t(a.data.size()));
}

TEST(Npy, ConvertsOtherDtypes) {
  std::string f = header("{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }");
  f += std::string("\x01\x00\xff\xfe", 4);  // big-endian 256, -2
  const NpyArray a = parse_npy(f.data(), f.size(), "x.npy");
  EXPECT_EQ(a.data, (std::vector<float>{256.f, -2.f}));
}

TEST(Npy, RejectsMalformedInput) {
  EXPECT_NE(parse_error("garbage").find("bad magic"), std::string::npos);
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_NE(parse_error(header(ok_dict) + std::string(8, '\0')).find("truncated"),
            std::string::npos);
  EXPECT_NE(parse_error(header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") +
                        std::string(4, '\0'))
                .find("C-order"),
            std::string::npos);
  EXPECT_NE(parse_error(header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"))
                .find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(parse_error(header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"))
                .find("invalid dimension"),
            std::string::npos);
  EXPECT_NE(parse_error(header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                               "(99999999999, 99999999999, 99999999999), }"))
                .find("too large"),
            std::string::npos);
  std::string bad_len = header(ok_dict);
  bad_len[8] = char(0xff);
  bad_len[9] = char(0xff);
  EXPECT_NE(parse_error(bad_len).find("exceeds the file"), std::string::npos);
  EXPECT_NE(parse_error(header("{'fortran_order': False, 'shape': (1,), }")).find("no 'descr'"),
            std::string::npos);
}

TEST(Npy, MissingFileAndUnwritableDirectory) {
  try {
    read_npy("/nonexistent/x.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent/x.npy': no such file"), std::string::npos);
  }
  const float v = 1.f;
  EXPECT_THROW(write_npy("/nonexistent/dir/x.npy", &v, {1}), Error);
}

}  // namespace
}  // namespace musefm
