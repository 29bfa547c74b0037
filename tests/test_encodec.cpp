// EnCodec teacher parity with the PyPI encodec package (a small random-weight model of the
// 24 kHz architecture on real music; every expected value comes from
// tools/make_encodec_fixtures.py), codebook / frame arithmetic, config JSON and load errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "musefm/codec.h"
#include "musefm/safetensors.h"
#include "support/test_support.h"

namespace musefm {
namespace {

std::string model_dir() { return test::fixture("teachers/encodec_tiny"); }

const SafeTensorsFile& reference() {
  static const SafeTensorsFile f = SafeTensorsFile::open(model_dir() + "/reference.safetensors");
  return f;
}
at::Tensor reference_tensor(const std::string& name) { return reference().get(name).clone(); }
int64_t ref_meta(const std::string& key) { return std::stoll(reference().metadata().at(key)); }

// Samples [offset, offset + n) of the recording the fixtures were made from.
at::Tensor excerpt(int64_t offset, int64_t n) {
  static const at::Tensor audio = test::load_wav(test::fixture(reference().metadata().at("input")));
  return audio.narrow(0, offset, n);
}
at::Tensor main_clip() {
  const std::string clip = reference().metadata().at("clip");  // "begin:end"
  const int64_t begin = std::stoll(clip), end = std::stoll(clip.substr(clip.find(':') + 1));
  return excerpt(begin, end - begin);
}

double fraction_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) return 0.0;
  return a.eq(b).to(at::kDouble).mean().item<double>();
}

std::map<std::string, at::Tensor> fixture_weights() {
  const auto f = SafeTensorsFile::open(model_dir() + "/model.safetensors");
  std::map<std::string, at::Tensor> w;
  for (const auto& t : f.tensors()) w[t.name] = f.get(t.name).clone();
  return w;
}

EncodecConfig fixture_config() { return EncodecConfig::load(model_dir() + "/config.json"); }

std::string load_error(const std::map<std::string, at::Tensor>& w) {
  try {
    EncodecTeacher::from_weights(fixture_config(), w, "cpu", "tiny.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(EncodecParity, EncoderOutputMatchesEncodec) {
  const auto codec = EncodecTeacher::load(model_dir());
  const at::Tensor expected = reference_tensor("emb");
  const at::Tensor emb = codec.encode(main_clip());
  ASSERT_EQ(emb.sizes(), expected.sizes());
  const double err = test::max_rel_error(emb, expected);
  EXPECT_LE(err, 1e-4);
  RecordProperty("max_rel_error", std::to_string(err));
  std::printf("[ encodec  ] encoder output %s: max|d|/max|ref| = %.2e\n",
              c10::str(emb.sizes()).c_str(), err);
}

TEST(EncodecParity, CodesMatchEncodecAtTwoBandwidths) {
  const auto codec = EncodecTeacher::load(model_dir());
  const at::Tensor bandwidths = reference_tensor("bandwidths");
  const at::Tensor emb = codec.encode(main_clip());
  for (int64_t i = 0; i < bandwidths.size(0); ++i) {
    const double bw = bandwidths[i].item<double>();
    const at::Tensor expected = reference_tensor("codes_bw" + std::to_string(i));
    const at::Tensor codes = codec.codes(main_clip(), bw);
    ASSERT_EQ(codes.sizes(), expected.sizes()) << bw << " kbps";
    EXPECT_EQ(codes.scalar_type(), at::kLong);
    EXPECT_EQ(codec.num_codebooks(bw), expected.size(1));
    const double same = fraction_equal(codes, expected);
    EXPECT_GE(same, 0.999) << bw << " kbps";
    EXPECT_TRUE(codec.quantize(emb, bw).equal(codes)) << "quantize(encode(x)) != codes(x)";
    RecordProperty("codes_equal_at_" + std::to_string(bw), std::to_string(same));
    std::printf("[ encodec  ] codes at %.1f kbps %s: %.4f%% of entries equal\n", bw,
                c10::str(codes.sizes()).c_str(), 100 * same);
  }
}

TEST(EncodecParity, OddLengthsMatchEncodec) {
  const auto codec = EncodecTeacher::load(model_dir());
  const at::Tensor lengths = reference_tensor("lengths");
  const double bw = reference_tensor("bandwidths")[1].item<double>();
  for (int64_t i = 0; i < lengths.size(0); ++i) {
    const int64_t n = lengths[i].item<int64_t>();
    const std::string name = "_len" + std::to_string(n);
    const at::Tensor x = excerpt(ref_meta("odd_offset"), n);
    const at::Tensor emb = reference_tensor("emb" + name), codes = reference_tensor("codes" + name);
    EXPECT_EQ(codec.num_frames(n), emb.size(2)) << n << " samples";
    EXPECT_LE(test::max_rel_error(codec.encode(x), emb), 1e-4) << n << " samples";
    EXPECT_TRUE(codec.codes(x, bw).equal(codes)) << n << " samples";
  }
}

TEST(EncodecParity, CodebooksPerBandwidthMatchEncodec) {
  const at::Tensor targets = reference_tensor("target_bandwidths");
  const at::Tensor tiny = reference_tensor("num_codebooks"),
                   full = reference_tensor("num_codebooks_24khz");
  const EncodecConfig tiny_config = fixture_config(), full_config;  // defaults = 24 kHz model
  ASSERT_EQ(int64_t(full_config.target_bandwidths.size()), targets.size(0));
  for (int64_t i = 0; i < targets.size(0); ++i) {
    const double bw = targets[i].item<double>();
    EXPECT_EQ(full_config.target_bandwidths[size_t(i)], bw);
    EXPECT_EQ(tiny_config.num_codebooks(bw), tiny[i].item<int64_t>()) << bw << " kbps";
    EXPECT_EQ(full_config.num_codebooks(bw), full[i].item<int64_t>()) << bw << " kbps";
  }
}

TEST(Encodec, BatchOfTwoEqualsOneByOne) {
  const auto codec = EncodecTeacher::load(model_dir());
  const at::Tensor a = excerpt(0, 9601), b = excerpt(12000, 9601);
  const at::Tensor batch = at::stack({a, b});
  const at::Tensor emb = codec.encode(batch), codes = codec.codes(batch, 6.0);
  ASSERT_EQ(emb.size(0), 2);
  EXPECT_LE(test::max_rel_error(emb[0], codec.encode(a)[0]), 1e-5);
  EXPECT_LE(test::max_rel_error(emb[1], codec.encode(b)[0]), 1e-5);
  EXPECT_GE(fraction_equal(codes[0], codec.codes(a, 6.0)[0]), 0.999);
  EXPECT_GE(fraction_equal(codes[1], codec.codes(b, 6.0)[0]), 0.999);
}

TEST(Encodec, ChunkedEncoderEqualsOnePass) {
  const auto codec = EncodecTeacher::load(model_dir());
  const at::Tensor full = main_clip(), expected = reference_tensor("emb");
  const int64_t one_pass = 0;
  double worst = 0;
  // Whole hops (the fixture clip) and a partial last frame, one item and a batch of two.
  for (const at::Tensor& x : {full, full.narrow(0, 0, full.size(0) - 123),
                              at::stack({full.narrow(0, 0, 20000), full.narrow(0, 7000, 20000)})}) {
    const at::Tensor whole = codec.encode(x, one_pass);
    for (int64_t chunk : {1, 33, 149}) {  // 1: raised to the context (7 frames here)
      const at::Tensor chunked = codec.encode(x, chunk);
      ASSERT_EQ(chunked.sizes(), whole.sizes()) << chunk << " frames per chunk";
      const double err = test::max_rel_error(chunked, whole);
      worst = std::max(worst, err);
      EXPECT_LE(err, 1e-5) << chunk << " frames per chunk";
    }
  }
  std::printf("[ encodec  ] chunked vs one pass: max|d|/max|ref| = %.2e\n", worst);
  EXPECT_LE(test::max_rel_error(codec.encode(full, 8), expected), 1e-4);
}

TEST(Encodec, InputErrorsAreClear) {
  const auto codec = EncodecTeacher::load(model_dir());
  auto error = [&](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error([&] { codec.codes(excerpt(0, 100), 0.0); }).find("bandwidth 0 kbps"),
            std::string::npos);
  EXPECT_NE(error([&] { codec.encode(at::zeros({0})); }).find("empty"), std::string::npos);
  EXPECT_NE(error([&] { codec.encode(at::zeros({1, 1, 8})); }).find("dims"), std::string::npos);
  EXPECT_NE(error([&] {
              codec.quantize(at::zeros({1, 3, 8}));
            }).find("encoder output"),
            std::string::npos);
}

TEST(EncodecConfig, JsonRoundTripsAndRejectsUnknownKeys) {
  const EncodecConfig c = fixture_config();
  EXPECT_EQ(EncodecConfig::from_json(c.to_json()).to_json(), c.to_json());
  EXPECT_EQ(EncodecConfig::from_json(EncodecConfig().to_json()).to_json(),
            EncodecConfig().to_json());
  try {
    EncodecConfig::from_json(R"({"n_filters": 32, "lstm": 2})");
    FAIL() << "unknown key accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'lstm'"), std::string::npos) << e.what();
  }
  try {
    EncodecConfig::from_json(R"({"bins": 1000})");
    FAIL() << "bins 1000 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("EncodecConfig.bins"), std::string::npos) << e.what();
  }
}

TEST(EncodecLoad, ErrorsNameTheDirectoryAndTheKeys) {
  try {
    EncodecTeacher::load(model_dir() + "/no_such_dir");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir' does not exist"), std::string::npos);
  }
  auto w = fixture_weights();
  EXPECT_EQ(load_error(w), "");  // decoder.* and codebook training buffers are accepted
  auto minimal = w;  // ... and not needed (convert_checkpoint.py encodec --encoder-only)
  for (auto it = minimal.begin(); it != minimal.end();) {
    const std::string& name = it->first;
    const bool drop = name.rfind("decoder.", 0) == 0 ||
                      name.find("._codebook.cluster_size") != std::string::npos ||
                      name.find("._codebook.embed_avg") != std::string::npos;
    it = drop ? minimal.erase(it) : std::next(it);
  }
  EXPECT_LE(minimal.size(), w.size() / 2);
  EXPECT_EQ(load_error(minimal), "");
  const std::string q2 = "quantizer.vq.layers.2._codebook.";
  auto missing = w;
  missing.erase("quantizer.vq.layers.7._codebook.embed");
  EXPECT_NE(load_error(missing).find("missing: quantizer.vq.layers.7._codebook.embed"),
            std::string::npos)
      << load_error(missing);
  auto extra = w;
  extra["encoder.model.99.conv.conv.bias"] = at::zeros({4});
  EXPECT_NE(load_error(extra).find("unexpected: encoder.model.99.conv.conv.bias"),
            std::string::npos);
  auto wrong = w;
  wrong[q2 + "embed"] = at::zeros({64, 33});
  EXPECT_NE(load_error(wrong).find(q2 + "embed [64, 33] (expected [64, 32])"), std::string::npos)
      << load_error(wrong);
  EXPECT_NE(load_error(wrong).find("tiny.safetensors"), std::string::npos);
  auto uninitialised = w;
  uninitialised[q2 + "inited"] = at::zeros({1});
  EXPECT_NE(load_error(uninitialised).find(q2 + "inited is 0"), std::string::npos);
  auto half_norm = w;
  half_norm.erase("encoder.model.4.block.1.conv.conv.weight_g");
  EXPECT_NE(load_error(half_norm).find("encoder.model.4.block.1.conv.conv.weight"),
            std::string::npos)
      << load_error(half_norm);
}

TEST(EncodecLoad, ParametrizationsWeightNormLoadsTheSameModel) {
  auto w = fixture_weights();
  for (auto it = w.begin(); it != w.end();) {
    const std::string name = it->first, tail = name.substr(name.size() - 9);
    if (tail != ".weight_g" && tail != ".weight_v") {
      ++it;
      continue;
    }
    const std::string prefix = name.substr(0, name.size() - 9);
    w[prefix + ".parametrizations.weight." + (tail == ".weight_g" ? "original0" : "original1")] =
        it->second;
    it = w.erase(it);
  }
  const auto a = EncodecTeacher::load(model_dir());
  const auto b = EncodecTeacher::from_weights(fixture_config(), w);
  const at::Tensor x = excerpt(0, 4800);
  EXPECT_LE(test::max_rel_error(b.encode(x), a.encode(x)), 1e-6);
}

}  // namespace
}  // namespace musefm
