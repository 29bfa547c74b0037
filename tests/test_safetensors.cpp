// safetensors: files written by the reference Python package, round trips, hostile headers.
#include <gtest/gtest.h>

#include <cstring>

#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors_header(bytes.data(), bytes.size(), "w.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A file image with `header` as JSON and `data_bytes` zero bytes of data.
std::string image(const std::string& header, std::size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

TEST(SafeTensors, ReadsTheReferenceWriter) {
  const auto f = SafeTensorsFile::open(test::fixture("weights.safetensors"));
  EXPECT_EQ(f.tensors().size(), 6u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (const char* name : {"encoder.layers.0.attention.q_proj.weight", "encoder.layer_norm.bias",
                           "conv.linear.weight"}) {
    const at::Tensor ref = test::load_npy(test::fixture(std::string("weights_") + name + ".npy"));
    const at::Tensor got = f.get(name);
    EXPECT_EQ(got.sizes(), ref.sizes()) << name;
    EXPECT_TRUE(at::equal(got.to(at::kFloat), ref)) << name;  // f16/bf16 upcast exactly
  }
  EXPECT_EQ(f.get("encoder.layer_norm.bias").scalar_type(), at::kHalf);
  EXPECT_EQ(f.get("conv.linear.weight").scalar_type(), at::kBFloat16);
  EXPECT_EQ(f.get("conv.conv.0.bn1.num_batches_tracked").item<int64_t>(), 12345);
  EXPECT_TRUE(at::equal(f.get("quantizer.codes"), at::arange(7, at::kByte)));
  EXPECT_EQ(f.get("empty").sizes(), (at::IntArrayRef{0, 4}));
  EXPECT_EQ(f.info("conv.linear.weight").dtype, SafeDType::BF16);
}

TEST(SafeTensors, RoundTripKeepsDtypesShapesAndMetadata) {
  const std::string p = test::temp_dir() + "/m.safetensors";
  const std::vector<std::pair<std::string, at::Tensor>> in{
      {"a", at::randn({3, 4})},
      {"b", at::randn({5}).to(at::kHalf)},
      {"c", at::randn({2, 2}).to(at::kBFloat16)},
      {"d", at::arange(6, at::kLong).view({2, 3})},
      {"e", at::randn({4, 3}).t()},  // non-contiguous input
      {"f", at::ones({2}, at::kBool)}};
  save_safetensors(p, in, {{"note", "round trip"}});
  const auto f = SafeTensorsFile::open(p);
  EXPECT_EQ(f.metadata().at("note"), "round trip");
  for (const auto& [name, t] : in) {
    const at::Tensor got = f.get(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(got, t.contiguous())) << name;
  }
}

TEST(SafeTensors, TensorsOutliveTheFileObject) {
  at::Tensor w;
  {
    const auto f = SafeTensorsFile::open(test::fixture("weights.safetensors"));
    w = f.get("encoder.layers.0.attention.q_proj.weight");
  }
  const at::Tensor ref =
      test::load_npy(test::fixture("weights_encoder.layers.0.attention.q_proj.weight.npy"));
  EXPECT_TRUE(at::equal(w, ref));
}

TEST(SafeTensors, RejectsHostileHeaders) {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(parse_error(image(ok, 8)), "");
  EXPECT_NE(parse_error("abc").find("too short"), std::string::npos);
  std::string huge = image(ok, 8);
  huge[6] = 1;  // header length ~2^48
  EXPECT_NE(parse_error(huge).find("invalid header length"), std::string::npos);
  EXPECT_NE(parse_error(image(ok, 8).substr(0, 30)).find("exceeds the file size"),
            std::string::npos);
  EXPECT_NE(parse_error(image("{oops", 0)).find("invalid header JSON"), std::string::npos);
  EXPECT_NE(parse_error(image(R"({"w":{"dtype":"F32","shape":[2]}})", 8)).find("data_offsets"),
            std::string::npos);
  EXPECT_NE(parse_error(image(R"({"w":{"dtype":"C64","shape":[2],"data_offsets":[0,8]}})", 8))
                .find("unsupported safetensors dtype 'C64'"),
            std::string::npos);
  EXPECT_NE(parse_error(image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8))
                .find("shape needs 12 bytes"),
            std::string::npos);
  EXPECT_NE(parse_error(image(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8))
                .find("invalid dimension"),
            std::string::npos);
  EXPECT_NE(parse_error(image(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8))
                .find("outside the data buffer"),
            std::string::npos);
  EXPECT_NE(parse_error(image(ok, 12)).find("4 trailing bytes"), std::string::npos);
  const std::string overlap = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_NE(parse_error(image(overlap, 8)).find("(overlap)"), std::string::npos);
  const std::string gap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  EXPECT_NE(parse_error(image(gap, 8)).find("(gap)"), std::string::npos);
  EXPECT_NE(parse_error(image(R"({"__metadata__":{"k":1}})", 0)).find("is not a string"),
            std::string::npos);
  const std::string overflow =
      R"({"w":{"dtype":"F64","shape":[281474976710656,281474976710656],"data_offsets":[0,8]}})";
  EXPECT_NE(parse_error(image(overflow, 8)).find("overflows"), std::string::npos);
}

TEST(SafeTensors, FileErrorsNameTheFile) {
  try {
    SafeTensorsFile::open("/nonexistent/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent/model.safetensors': no such file"),
              std::string::npos);
  }
  const std::string empty = test::temp_dir() + "/empty.safetensors";
  test::write_bytes(empty, "");
  EXPECT_THROW(SafeTensorsFile::open(empty), Error);
  EXPECT_THROW(SafeTensorsFile::open(test::temp_dir()), Error);
  const auto f = SafeTensorsFile::open(test::fixture("weights.safetensors"));
  try {
    f.get("missing.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor named 'missing.weight'"), std::string::npos);
  }
}

TEST(SafeTensors, SaveRejectsBadInput) {
  const std::string p = test::temp_dir() + "/bad.safetensors";
  EXPECT_THROW(save_safetensors(p, {{"a", at::ones({1})}, {"a", at::ones({1})}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"", at::ones({1})}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", at::Tensor()}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", at::ones({1}, at::kComplexFloat)}}), Error);
}

}  // namespace
}  // namespace musefm
