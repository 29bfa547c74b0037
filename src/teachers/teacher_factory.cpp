// The teachers of `musefm teach` (musefm/teachers.h): the features k-means is fitted on
// (k-means teachers), and the label sequences of one waveform.
#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <string>

#include "musefm/codec.h"
#include "musefm/encoder.h"
#include "musefm/error.h"
#include "musefm/extract.h"
#include "musefm/features.h"
#include "musefm/teachers.h"

namespace musefm {
namespace {

int encodec_codebooks(double bandwidth) {
  // EnCodec 24 kHz: n_q = floor(bandwidth * 1000 / (10 * 75)).
  return int(std::floor(bandwidth * 1000.0 / 750.0 + 1e-9));
}

// The parts every k-means teacher shares: one label stream, K (default given), the k-means fit.
Teacher kmeans_teacher(const TeacherConfig& o, const std::string& name, int default_k) {
  Teacher t;
  t.names = {name};
  t.k = o.k > 0 ? o.k : default_k;
  t.sample_rate = o.sample_rate;
  t.needs_kmeans = true;
  return t;
}

Teacher kmeans_mfcc(const TeacherConfig& o) {
  Teacher t = kmeans_teacher(o, "km", 100);
  auto mfcc = std::make_shared<KaldiMfcc>(KaldiMfccConfig::hubert(o.sample_rate));
  t.rate = 1000.0 / mfcc->config().frame_shift_ms;
  t.features = [mfcc](const at::Tensor& wav) { return (*mfcc)(wav); };  // [T, 39]
  return t;
}

// Pitch-class profile of each 10 ms frame: the MERT-style nnAudio CQT (7 octaves from C1, 4 bins
// a semitone) at 100 Hz, each bin added to the pitch class it is nearest to, the 12 sums divided
// by the frame's largest (librosa's norm=inf) with a floor so that near-silence stays near 0.
Teacher kmeans_chroma(const TeacherConfig& o) {
  Teacher t = kmeans_teacher(o, "chroma", 64);
  MUSEFM_CHECK(o.sample_rate % 100 == 0, "teach: --teacher kmeans-chroma needs a sample rate ",
               "divisible by 100 (labels at 100 Hz), got ", o.sample_rate);
  NnAudioCqtConfig c = NnAudioCqtConfig::mert();
  c.sample_rate = o.sample_rate;
  c.hop_length = o.sample_rate / 100;
  auto cqt = std::make_shared<const NnAudioCqt>(c);
  const int per_semitone = c.bins_per_octave / 12;
  std::vector<int64_t> pc(size_t(c.n_bins));
  for (int b = 0; b < c.n_bins; ++b) pc[size_t(b)] = ((b + per_semitone / 2) / per_semitone) % 12;
  const at::Tensor fold =
      at::one_hot(at::tensor(pc, at::TensorOptions(at::kLong)), 12).to(at::kFloat);  // [bins, 12]
  t.rate = 100.0;
  t.features = [cqt, fold](const at::Tensor& wav) {
    const at::Tensor chroma = at::matmul((*cqt)(wav).transpose(0, 1), fold);  // [T, 12]
    constexpr double kFloor = 1e-3;  // |CQT| of a -60 dB sine
    return chroma / std::get<0>(chroma.max(1, true)).clamp_min(kFloor);
  };
  return t;
}

Teacher kmeans_layer(const TeacherConfig& o) {
  MUSEFM_CHECK(!o.model.empty(),
               "teach: --teacher kmeans-layer needs --model DIR (the encoder "
               "whose layer is clustered)");
  Encoder enc = Encoder::load(o.model, o.device);
  MUSEFM_CHECK(o.layer >= 0 && o.layer < enc.config().num_hidden_states(), "teach: --layer ",
               o.layer, " outside the model's hidden states 0..",
               enc.config().num_hidden_states() - 1);
  Teacher t = kmeans_teacher(o, "km", 500);
  t.sample_rate = enc.config().sample_rate;
  t.rate = enc.config().frame_rate();
  ExtractConfig ec;
  ec.layers = std::to_string(o.layer);
  ec.pool = Pool::None;
  ec.window_s = 30;  // long entries in bounded memory (windows stitched frame-exactly)
  auto ex = std::make_shared<Extractor>(std::move(enc), ec);
  t.features = [ex](const at::Tensor& wav) { return ex->extract(wav)[0].cpu(); };  // [T, H]
  return t;
}

Teacher bestrq(const TeacherConfig& o) {
  MUSEFM_CHECK(!o.model.empty(),
               "teach: --teacher bestrq needs --model DIR (a converted "
               "MusicFM model: its mel statistics and quantizer)");
  const Encoder enc = Encoder::load(o.model, "cpu");
  MUSEFM_CHECK(enc.config().model_type == ModelType::MusicFm,
               "teach: --teacher bestrq reads MusicFM's "
               "mel; ",
               o.model, " is a ", to_string(enc.config().model_type), " model");
  auto q = std::make_shared<BestRq>(BestRq::load(o.model));
  MelConfig mc = MelConfig::musicfm();  // with the model's mel shape (tiny models: fewer bands)
  mc.n_mels = enc.config().n_mels;
  mc.n_fft = enc.config().mel_n_fft;
  mc.hop_length = enc.config().mel_hop_length;
  mc.sample_rate = enc.config().sample_rate;
  auto mel = std::make_shared<MelSpectrogram>(mc);
  const double mean = enc.config().mel_mean, stdev = enc.config().mel_std;
  Teacher t;
  for (int i = 0; i < q->num_codebooks(); ++i) t.names.push_back("bestrq_" + std::to_string(i));
  t.k = q->codes();
  t.sample_rate = mc.sample_rate;
  t.rate = double(mc.sample_rate) / mc.hop_length / q->stack();
  t.label = [q, mel, mean, stdev](const at::Tensor& wav) {
    const at::Tensor m = ((*mel)(wav)-mean) / stdev;  // [128, T]
    return q->tokens(m.unsqueeze(0))[0];              // [codebooks, T / 4]
  };
  return t;
}

Teacher encodec(const TeacherConfig& o) {
  MUSEFM_CHECK(!o.codec.empty(),
               "teach: --teacher encodec needs --codec DIR (a model dir made "
               "by tools/convert_checkpoint.py encodec)");
  auto codec = std::make_shared<EncodecTeacher>(EncodecTeacher::load(o.codec, o.device));
  const int n = codec->num_codebooks(o.bandwidth);
  Teacher t;
  for (int i = 0; i < n; ++i) t.names.push_back("encodec_" + std::to_string(i));
  t.k = codec->config().bins;
  t.sample_rate = codec->config().sample_rate;
  t.rate = codec->config().frame_rate();
  const double bw = o.bandwidth;
  t.label = [codec, bw](const at::Tensor& wav) {
    return codec->codes(wav.unsqueeze(0), bw)[0].cpu();  // [n_q, T]
  };
  return t;
}

}  // namespace

namespace {
Teacher make_named_teacher(const TeacherConfig& o) {
  if (o.teacher == "kmeans-mfcc") return kmeans_mfcc(o);
  if (o.teacher == "kmeans-chroma") return kmeans_chroma(o);
  if (o.teacher == "kmeans-layer") return kmeans_layer(o);
  if (o.teacher == "bestrq") return bestrq(o);
  if (o.teacher == "encodec") return encodec(o);
  MUSEFM_FAIL("teach: unknown --teacher '", o.teacher,
              "' (kmeans-mfcc, kmeans-chroma, kmeans-layer, bestrq or encodec)");
}
}  // namespace

Teacher make_teacher(const TeacherConfig& o) {
  Teacher t = make_named_teacher(o);
  if (!o.label_name.empty()) {
    MUSEFM_CHECK(t.names.size() == 1,
                 "teach: --label-name renames a single label stream; --teacher ", o.teacher,
                 " writes ", t.names.size());
    t.names = {o.label_name};
  }
  return t;
}

void attach_kmeans(Teacher& t, const std::string& kmeans_path, bool keep_k) {
  MUSEFM_CHECK(t.needs_kmeans && t.features, "attach_kmeans: the teacher is not a k-means one");
  auto km = std::make_shared<KMeans>(KMeans::load(kmeans_path));
  if (!keep_k) t.k = km->k();  // the fitted model decides unless --k says otherwise
  MUSEFM_CHECK(km->k() == t.k, kmeans_path, ": k-means has ", km->k(), " clusters, --k asks for ",
               t.k);
  auto features = t.features;
  t.label = [km, features](const at::Tensor& wav) {
    const at::Tensor f = features(wav);
    MUSEFM_CHECK(f.size(1) == km->dim(), "k-means of dimension ", km->dim(), " for features of ",
                 "dimension ", f.size(1), " (was it fitted with another teacher or layer?)");
    return km->assign(f).unsqueeze(0);
  };
}

double teacher_label_rate(const std::string& teacher) {
  if (teacher == "kmeans-mfcc" || teacher == "kmeans-chroma") return 100.0;
  if (teacher == "bestrq") return 25.0;
  if (teacher == "encodec") return 75.0;
  return 0.0;
}

std::vector<std::string> teacher_label_names(const TeacherConfig& o) {
  if (!o.label_name.empty()) return {o.label_name};
  if (o.teacher == "kmeans-chroma") return {"chroma"};
  if (o.teacher == "encodec") {
    // With --codec, its own count (codebook size and n_q matter); else EnCodec 24 kHz's.
    const int count = o.codec.empty() ? encodec_codebooks(o.bandwidth)
                                      : EncodecTeacher::load(o.codec).num_codebooks(o.bandwidth);
    std::vector<std::string> n;
    for (int i = 0; i < count; ++i) n.push_back("encodec_" + std::to_string(i));
    return n;
  }
  if (o.teacher == "bestrq") return {"bestrq_0"};
  return {"km"};
}

}  // namespace musefm
