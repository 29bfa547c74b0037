// nnAudio CQT1992v2 computed in the frequency domain.
//
// nnAudio convolves the (centre-padded) signal with 336 complex kernels of width W = 65,536 at
// stride hop: out_k[t] = sum_n x[t*hop + n] * conj(K_k[n]). For a block of N = M*hop samples
// starting at frame t0 the same sum is (1/N) sum_j X[j] conj(Khat_k[j]) e^{2 pi i j tau / M}
// (tau = t - t0, valid while tau*hop + W <= N). Khat_k is a Hann window's spectrum shifted to
// f_k: known in closed form and negligible outside a narrow band, so each bin costs a gather
// over its band, a fold of the band modulo M (aliasing onto the frame grid) and one length-M
// inverse FFT. Kernel design follows nnAudio utils.create_cqt_kernels exactly.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <array>
#include <cmath>
#include <complex>
#include <map>
#include <mutex>

#include "core/tensor_util.h"
#include "features/filterbanks.h"
#include "musefm/features.h"

namespace musefm {
using namespace features_detail;
using namespace detail;

namespace {
constexpr double kPi = 3.14159265358979323846;
using cd = std::complex<double>;

// Hann-window spectrum of one kernel along its band, with rotation recurrences.
//
// For DFT bin j, theta = 2 pi j / N - w0 and the (unphased) spectrum of a periodic Hann window
// of length l is S(theta) [0.5 / sin(a) - 0.25 e^{-ih} / sin(a - h) - 0.25 e^{ih} / sin(a + h)]
// with a = theta / 2, h = pi / l, S = sin(theta l / 2): the three Dirichlet kernels
// 0.5 D(theta) - 0.25 D(theta -+ 2 pi / l) sharing one sine. Every angle involved (a,
// theta l / 2 and the kernel's linear phase) advances by a constant per bin, so consecutive
// values come from complex rotations; the recurrences are re-anchored every 512 bins.
class HannBandWalker {
 public:
  HannBandWalker(double l, double w0, int64_t N, int64_t start, double phase0)
      : l_(l), w0_(w0), N_(N), start_(start), phase0_(phase0) {
    const double h = kPi / l;
    ch_ = std::cos(h);
    sh_ = std::sin(h);
    em_ = std::polar(1.0, -h);
    ep_ = std::polar(1.0, h);
    const double delta = 2.0 * kPi / double(N);
    step_a_ = std::polar(1.0, 0.5 * delta);
    step_s_ = std::polar(1.0, 0.5 * delta * l);
    step_p_ = std::polar(1.0, -2.0 * kPi * double(start % N) / double(N) - 0.5 * delta * (l - 1.0));
  }

  // Kernel spectrum Khat[j] (before conjugation) for j = j0, j0 + 1, ...
  void walk(int64_t j0, int64_t j1, std::vector<std::complex<float>>& out) {
    for (int64_t j = j0; j <= j1; ++j) {
      if ((j - j0) % 512 == 0) anchor(j);
      const double sa = ea_.imag(), ca = ea_.real();
      const double d0 = sa, dm = sa * ch_ - ca * sh_, dp = sa * ch_ + ca * sh_;
      cd h;
      if (std::abs(d0) < 1e-9 || std::abs(dm) < 1e-9 || std::abs(dp) < 1e-9) {
        h = exact(j);  // removable singularity: evaluate slightly off the pole
      } else {
        h = es_.imag() * (0.5 / d0 - 0.25 * em_ / dm - 0.25 * ep_ / dp) * ephase_;
      }
      out.emplace_back(float(h.real()), float(h.imag()));
      ea_ *= step_a_;
      es_ *= step_s_;
      ephase_ *= step_p_;
    }
  }

 private:
  double theta(int64_t j) const { return 2.0 * kPi * double(j) / double(N_) - w0_; }
  void anchor(int64_t j) {
    const double th = theta(j);
    ea_ = std::polar(1.0, 0.5 * th);
    es_ = std::polar(1.0, 0.5 * th * l_);
    const int64_t shift = (j % N_) * (start_ % N_) % N_;  // exact modular phase of the offset
    ephase_ =
        std::polar(1.0, phase0_ - 2.0 * kPi * double(shift) / double(N_) - 0.5 * th * (l_ - 1.0));
  }
  cd exact(int64_t j) const {
    const double th = theta(j) + 1e-7 / l_, a = 0.5 * th, h = kPi / l_;
    const int64_t shift = (j % N_) * (start_ % N_) % N_;
    const cd ph =
        std::polar(1.0, phase0_ - 2.0 * kPi * double(shift) / double(N_) - a * (l_ - 1.0));
    return std::sin(a * l_) *
           (0.5 / std::sin(a) - 0.25 * em_ / std::sin(a - h) - 0.25 * ep_ / std::sin(a + h)) * ph;
  }

  double l_, w0_;
  int64_t N_, start_;
  double phase0_;
  double ch_, sh_;
  cd em_, ep_, step_a_, step_s_, step_p_, ea_, es_, ephase_;
};

// Smallest nu (in DFT bins of the window) beyond which the Hann envelope
// 1 / (pi nu (nu^2 - 1)) stays below `cutoff`.
double hann_band_halfwidth(double cutoff) {
  double nu = 2.0;
  while (1.0 / (kPi * nu * (nu * nu - 1.0)) > cutoff) nu += 0.25;
  return nu + 2.0;  // main lobe (+-2 bins) margin
}
}  // namespace

struct NnAudioCqt::Tables {
  int64_t block_frames = 0;   // M: frames per FFT block (incl. overlap)
  int64_t valid_frames = 0;   // F: frames produced per block
  int64_t block_samples = 0;  // N = M * hop
  at::Tensor gather_index;    // [nnz] rfft bin j
  at::Tensor fold_index;      // [nnz] k * M + j mod M
  at::Tensor coef;            // [nnz] complex64: conj(Khat_k[j]) / norm
  at::Tensor scale;           // [n_bins] sqrt(l_k) / hop
  std::mutex mutex;
  std::map<std::string, std::array<at::Tensor, 4>> per_device;

  std::array<at::Tensor, 4> on(const at::Device& device) {
    if (device.is_cpu()) return {gather_index, fold_index, coef, scale};
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = per_device[device.str()];
    if (!slot[0].defined())
      slot = {gather_index.to(device), fold_index.to(device), coef.to(device), scale.to(device)};
    return slot;
  }
};

NnAudioCqt::NnAudioCqt(NnAudioCqtConfig config) : config_(std::move(config)) {
  config_.validate();
  const auto& c = config_;
  const double sr = c.sample_rate;
  const double q = c.filter_scale / (std::pow(2.0, 1.0 / c.bins_per_octave) - 1.0);
  double max_len = 0;
  for (int k = 0; k < c.n_bins; ++k) {
    const double f = c.fmin * std::pow(2.0, double(k) / c.bins_per_octave);
    freqs_.push_back(f);
    lengths_.push_back(std::ceil(q * sr / f));
    max_len = std::max(max_len, lengths_.back());
  }
  kernel_width_ = int64_t(std::pow(2.0, std::ceil(std::log2(max_len))));

  // Tables depend only on the config: shared process-wide (they take ~0.1 s to design).
  static std::mutex cache_mutex;
  static std::map<std::string, std::weak_ptr<Tables>> cache;
  const std::string key = c.to_json();
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (auto cached = cache[key].lock()) {
    tables_ = std::move(cached);
    return;
  }
  tables_ = build_tables();
  cache[key] = tables_;
}

std::shared_ptr<NnAudioCqt::Tables> NnAudioCqt::build_tables() const {
  const auto& c = config_;
  const double sr = c.sample_rate;
  auto t = std::make_shared<Tables>();
  const int64_t hop = c.hop_length, W = kernel_width_;
  t->block_frames = std::max<int64_t>(c.chunk_frames, (W + hop - 1) / hop + 16);
  const int64_t M = t->block_frames, N = M * hop;
  t->block_samples = N;
  t->valid_frames = (N - W) / hop + 1;
  const double halfwidth = hann_band_halfwidth(c.spectral_cutoff);

  // Per-bin band of the kernel spectrum (bins are independent: designed in parallel).
  struct Band {
    int64_t j0 = 0;
    std::vector<std::complex<float>> coef;
  };
  std::vector<Band> bands(size_t(c.n_bins));
  at::parallel_for(0, c.n_bins, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const double l = lengths_[k], f = freqs_[k];
      const int64_t li = int64_t(l);
      // nnAudio centring: start = ceil(W/2 - l/2), one less for odd l.
      const int64_t start = int64_t(std::ceil(W / 2.0 - l / 2.0)) - (li % 2 == 1 ? 1 : 0);
      const double p0 = std::floor(-l / 2.0);  // np.r_[-l//2 : l//2]
      const double w0 = 2.0 * kPi * f / sr;
      // norm=1 divides sig = w e / l by sum|sig| = sum(w) / l; a periodic Hann sums to l/2.
      const double norm = c.norm == 1 ? (li >= 2 ? l / 2.0 : 1.0) : l;
      const double jc = f * N / sr, hw = halfwidth * N / l;
      const int64_t j0 = std::max<int64_t>(0, int64_t(std::floor(jc - hw)));
      const int64_t j1 = std::min<int64_t>(N / 2, int64_t(std::ceil(jc + hw)));
      Band& band = bands[size_t(k)];
      band.j0 = j0;
      band.coef.reserve(size_t(j1 - j0 + 1));
      HannBandWalker(l, w0, N, start, w0 * p0).walk(j0, j1, band.coef);
      const float inv_norm = float(1.0 / norm);
      for (auto& v : band.coef) v = std::conj(v) * inv_norm;
    }
  });
  std::vector<int64_t> gather, fold;
  std::vector<std::complex<float>> coef;
  std::vector<float> scale;
  for (int k = 0; k < c.n_bins; ++k) {
    const Band& band = bands[size_t(k)];
    for (int64_t i = 0; i < int64_t(band.coef.size()); ++i) {
      gather.push_back(band.j0 + i);
      fold.push_back(int64_t(k) * M + (band.j0 + i) % M);
    }
    coef.insert(coef.end(), band.coef.begin(), band.coef.end());
    scale.push_back(float(std::sqrt(float(lengths_[k])) / double(hop)));
  }
  const auto n = int64_t(gather.size());
  t->gather_index = at::from_blob(gather.data(), {n}, at::kLong).clone();
  t->fold_index = at::from_blob(fold.data(), {n}, at::kLong).clone();
  t->coef = at::from_blob(coef.data(), {n}, at::kComplexFloat).clone();
  t->scale = at::from_blob(scale.data(), {c.n_bins, 1}, at::kFloat).clone();
  return t;
}

NnAudioCqt::~NnAudioCqt() = default;

int64_t NnAudioCqt::num_frames(int64_t n) const {
  const int64_t padded = config_.center ? n + 2 * (kernel_width_ / 2) : n;
  return padded < kernel_width_ ? 0 : (padded - kernel_width_) / config_.hop_length + 1;
}

at::Tensor NnAudioCqt::operator()(const at::Tensor& waveform) const {
  bool unbatched = false;
  at::Tensor x = as_batch(waveform, "NnAudioCqt", unbatched).to(at::kFloat);
  const auto& c = config_;
  const int64_t half = kernel_width_ / 2, hop = c.hop_length;
  const int64_t T = num_frames(x.size(1));
  MUSEFM_CHECK(T > 0, "NnAudioCqt: need at least ", kernel_width_,
               " samples without centring, got ", x.size(1));
  if (c.center) {
    if (c.pad_mode == PadMode::Reflect) {
      MUSEFM_CHECK(x.size(1) > half, "NnAudioCqt: reflect padding needs more than ", half,
                   " samples, got ", x.size(1));
      x = at::reflection_pad1d(x.unsqueeze(1), {half, half}).squeeze(1);
    } else {
      x = at::constant_pad_nd(x, {half, half}, 0.0);
    }
  }
  const Tables& t = *tables_;
  const auto tabs = tables_->on(x.device());
  const at::Tensor &gather = tabs[0], &fold = tabs[1], &coef = tabs[2], &scale = tabs[3];
  const int64_t B = x.size(0), M = t.block_frames, N = t.block_samples;
  std::vector<at::Tensor> blocks;
  for (int64_t t0 = 0; t0 < T; t0 += t.valid_frames) {
    const int64_t s0 = t0 * hop;
    const int64_t len = std::min<int64_t>(N, x.size(1) - s0);
    at::Tensor seg = x.narrow(1, s0, len);
    at::Tensor spec = at::fft_rfft(seg, N, -1);  // zero-padded to N
    at::Tensor prod = spec.index_select(1, gather) * coef;
    at::Tensor folded = at::zeros({B, c.n_bins * M}, spec.options());
    folded.index_add_(1, fold, prod);
    at::Tensor frames = at::fft_ifft(folded.view({B, c.n_bins, M}), M, -1);
    const int64_t take = std::min<int64_t>(t.valid_frames, T - t0);
    blocks.push_back(frames.narrow(-1, 0, take).abs() * scale);
  }
  at::Tensor out = blocks.size() == 1 ? blocks[0].contiguous() : at::cat(blocks, -1);
  return unbatched ? out.squeeze(0) : out;
}

}  // namespace musefm
