// librosa.cqt (librosa 0.11) = vqt(intervals="equal", gamma=0): a multirate transform. Each
// octave (top first) projects a rectangular-window STFT of the signal onto a sparsified
// frequency-domain filter basis; the signal is then halved with soxr_hq for the next octave.
// Design math is in double on the CPU, following librosa's float32/complex64 roundings where
// they are cheap to mirror; the STFTs and projections run on the input's device.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <map>
#include <mutex>

#include "audio/soxr_resample.h"
#include "core/config_fields.h"
#include "core/tensor_util.h"
#include "features/filterbanks.h"
#include "musefm/features.h"

namespace musefm {
using namespace features_detail;
using namespace detail;

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kHannBandwidth = 1.50018310546875;   // filters.WINDOW_BANDWIDTHS["hann"]
constexpr double kMaxFilterLength = double(1 << 22);  // samples; guards absurd configs
constexpr int kMaxBins = 10000;                       // likewise, for n_bins and bins_per_octave

// constantq.__num_two_factors
int num_two_factors(int64_t x) {
  int n = 0;
  while (x > 0 && x % 2 == 0) x /= 2, ++n;
  return x > 0 ? n : 0;
}

int octaves_of(const LibrosaCqtConfig& c) {
  return int(std::ceil(double(c.n_bins) / c.bins_per_octave));
}

// vqt's setup for one tuning: interval_frequencies(intervals="equal"), the relative bandwidths
// (filters._relative_bandwidth, or __et_relative_bw for a single bin) and the highest cutoff of
// filters.wavelet_lengths (gamma = 0, so lengths are Q * sr / f).
struct Design {
  std::vector<double> freqs, alpha;
  double cutoff = 0.0;
};

Design design(const LibrosaCqtConfig& c, double tuning) {
  const int bpo = c.bins_per_octave;
  const double fmin = c.fmin * std::pow(2.0, tuning / bpo);
  Design d;
  for (int k = 0; k < c.n_bins; ++k) {  // outer(2 ** octave, 2 ** (j / bpo)) * fmin
    const double ratio = std::pow(2.0, double(k % bpo) / bpo);
    d.freqs.push_back(std::pow(2.0, double(k / bpo)) * ratio * fmin);
  }
  const size_t n = d.freqs.size();
  if (n == 1) {
    const double r = std::pow(2.0, 1.0 / bpo);
    d.alpha.push_back((r * r - 1) / (r * r + 1));
  } else {
    std::vector<double> logf(n), octave_bins(n);
    for (size_t k = 0; k < n; ++k) logf[k] = std::log2(d.freqs[k]);
    octave_bins[0] = 1 / (logf[1] - logf[0]);
    octave_bins[n - 1] = 1 / (logf[n - 1] - logf[n - 2]);
    for (size_t k = 1; k + 1 < n; ++k) octave_bins[k] = 2 / (logf[k + 1] - logf[k - 1]);
    for (double b : octave_bins)
      d.alpha.push_back((std::pow(2.0, 2 / b) - 1) / (std::pow(2.0, 2 / b) + 1));
  }
  for (size_t k = 0; k < n; ++k) {
    const double q = c.filter_scale / d.alpha[k];
    d.cutoff = std::max(d.cutoff, d.freqs[k] * (1 + 0.5 * kHannBandwidth / q));
  }
  return d;
}

// constantq.__early_downsample_count, as a factor 2^count.
int early_factor(double nyquist, double cutoff, int hop_length, int n_octaves) {
  const int count1 = std::max(0, int(std::ceil(std::log2(nyquist / cutoff)) - 1) - 1);
  const int count2 = std::max(0, num_two_factors(hop_length) - n_octaves + 1);
  return 1 << std::min(count1, count2);
}

// scipy.signal.get_window("hann", n, fftbins=True).
std::vector<double> hann_periodic(int64_t n) {
  std::vector<double> w(size_t(n), 1.0);
  if (n <= 1) return w;  // scipy's _len_guards
  const double step = 2 * kPi / double(n);
  for (int64_t k = 0; k < n; ++k) w[size_t(k)] = 0.5 + 0.5 * std::cos(double(k) * step + -kPi);
  return w;
}

// constantq.__vqt_filter_fft for one octave: filters.wavelet (hann, L1 norm, pad_fft, complex64
// result), basis *= lengths / n_fft, FFT (complex64), keep bins 0..n_fft/2, then
// util.sparsify_rows(quantile=sparsity). `row_scale` folds in vqt's sqrt(sr / my_sr) and the
// final 1 / sqrt(length) of scale=True. Returns [K, n_fft/2 + 1] complex64 on the CPU.
at::Tensor filter_fft(double sr, const double* freqs, const double* alpha, int64_t K,
                      double filter_scale, double sparsity, const std::vector<double>& row_scale,
                      int64_t& n_fft) {
  std::vector<double> lengths(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) lengths[size_t(k)] = filter_scale / alpha[k] * sr / freqs[k];
  const double max_len = *std::max_element(lengths.begin(), lengths.end());
  n_fft = int64_t(std::pow(2.0, std::ceil(std::log2(max_len))));
  std::vector<std::complex<float>> basis(size_t(K * n_fft));
  for (int64_t k = 0; k < K; ++k) {
    const double len = lengths[size_t(k)];
    const double t0 = std::floor(-len / 2);  // np.arange(-ilen // 2, ilen // 2)
    const auto n = int64_t(std::floor(len / 2) - t0);
    const std::vector<double> window = hann_periodic(n);
    std::vector<std::complex<double>> sig(static_cast<size_t>(n));
    double l1 = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double x = (t0 + double(j)) * 2 * kPi * freqs[k] / sr;  // util.phasor
      sig[size_t(j)] = std::complex<double>(std::cos(x), std::sin(x)) * window[size_t(j)];
      l1 += std::abs(sig[size_t(j)]);
    }
    if (l1 < std::numeric_limits<double>::min()) l1 = 1;  // util.normalize(norm=1)
    const int64_t lpad = (n_fft - n) / 2;                 // util.pad_center
    const double renorm = len / double(n_fft);
    for (int64_t j = 0; j < n; ++j) {
      const std::complex<float> v(sig[size_t(j)] / l1);  // complex64 basis
      basis[size_t(k * n_fft + lpad + j)] = std::complex<float>(std::complex<double>(v) * renorm);
    }
  }
  at::Tensor fb = at::from_blob(basis.data(), {K, n_fft}, at::kComplexFloat);
  fb = at::fft_fft(fb, n_fft, 1).narrow(1, 0, n_fft / 2 + 1).contiguous();
  auto* v = fb.data_ptr<c10::complex<float>>();
  const int64_t F = fb.size(1);
  std::vector<float> mags(static_cast<size_t>(F)), sorted(static_cast<size_t>(F));
  for (int64_t k = 0; k < K; ++k) {
    auto* row = v + k * F;
    double total = 0;
    for (int64_t j = 0; j < F; ++j)
      total += mags[size_t(j)] = std::hypot(row[j].real(), row[j].imag());
    sorted = mags;
    std::sort(sorted.begin(), sorted.end());
    // argmin(cumsum(sorted / total) < quantile): the first index reaching the quantile.
    int64_t first = 0;
    double cum = 0;
    for (int64_t j = 0; j < F; ++j) {
      cum += sorted[size_t(j)] / total;
      if (!(cum < sparsity)) {
        first = j;
        break;
      }
    }
    const float keep = sorted[size_t(first)];
    for (int64_t j = 0; j < F; ++j) {
      const std::complex<double> c(row[j].real(), row[j].imag());
      const std::complex<double> scaled = mags[size_t(j)] >= keep ? c * row_scale[size_t(k)] : 0.0;
      row[j] = c10::complex<float>(float(scaled.real()), float(scaled.imag()));
    }
  }
  return fb;
}

// Output frames: min over octaves of 1 + len_i // hop_i (constantq.__trim_stack).
int64_t trimmed_frames(int64_t n, int factor, int64_t hop, int n_octaves) {
  int64_t len = (n + factor - 1) / factor, frames = std::numeric_limits<int64_t>::max();
  hop /= factor;
  for (int i = 0; i < n_octaves; ++i) {
    frames = std::min(frames, 1 + len / hop);
    if (hop % 2 == 0) hop /= 2, len = (len + 1) / 2;
  }
  return frames;
}

}  // namespace

// ---- LibrosaCqtConfig -------------------------------------------------------------------------
LibrosaCqtConfig LibrosaCqtConfig::chroma() {
  LibrosaCqtConfig c;  // feature.chroma_cqt: n_octaves=7, bins_per_octave=36, tuning=None
  c.n_bins = 7 * 36;
  c.bins_per_octave = 36;
  c.tuning = std::numeric_limits<double>::quiet_NaN();
  return c;
}

MUSEFM_CONFIG_FIELDS(LibrosaCqtConfig, "LibrosaCqtConfig", sample_rate, hop_length, fmin, n_bins,
                     bins_per_octave, tuning, filter_scale, sparsity, scale);
MUSEFM_CONFIG_NULLABLE(LibrosaCqtConfig, "tuning");

void LibrosaCqtConfig::validate() const {
  MUSEFM_CHECK(sample_rate > 0, "LibrosaCqtConfig.sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(hop_length > 0, "LibrosaCqtConfig.hop_length must be positive, got ", hop_length);
  MUSEFM_CHECK(std::isfinite(fmin) && fmin > 0, "LibrosaCqtConfig.fmin must be positive, got ",
               fmin);
  MUSEFM_CHECK(n_bins > 0 && n_bins <= kMaxBins, "LibrosaCqtConfig.n_bins must be in [1, ",
               kMaxBins, "], got ", n_bins);
  MUSEFM_CHECK(bins_per_octave > 0 && bins_per_octave <= kMaxBins,
               "LibrosaCqtConfig.bins_per_octave must be in [1, ", kMaxBins, "], got ",
               bins_per_octave);
  MUSEFM_CHECK(!std::isinf(tuning),
               "LibrosaCqtConfig.tuning must be finite (or NaN to estimate it), got ", tuning);
  const double tuned_fmin =
      fmin * std::pow(2.0, (std::isnan(tuning) ? 0.0 : tuning) / bins_per_octave);
  MUSEFM_CHECK(std::isfinite(tuned_fmin) && tuned_fmin > 0,
               "LibrosaCqtConfig: fmin * 2^(tuning / bins_per_octave) must be positive and finite, "
               "got ",
               tuned_fmin);
  MUSEFM_CHECK(std::isfinite(filter_scale) && filter_scale > 0,
               "LibrosaCqtConfig.filter_scale must be positive, got ", filter_scale);
  MUSEFM_CHECK(sparsity >= 0 && sparsity < 1, "LibrosaCqtConfig.sparsity must be in [0, 1), got ",
               sparsity);
  const int n_octaves = octaves_of(*this);
  MUSEFM_CHECK(num_two_factors(hop_length) >= n_octaves - 1,
               "LibrosaCqtConfig.hop_length must be divisible by 2^(n_octaves - 1) = 2^",
               n_octaves - 1, " for ", n_octaves, " octaves, got ", hop_length);
  // Estimated tunings lie in [-0.5, 0.5) bins; the check is repeated once they are known.
  const Design d = design(*this, std::isnan(tuning) ? 0.0 : tuning);
  MUSEFM_CHECK(d.cutoff <= sample_rate / 2.0, "LibrosaCqtConfig: the top filter reaches ", d.cutoff,
               " Hz, above the Nyquist frequency ", sample_rate / 2.0, " Hz; reduce n_bins");
  const int64_t top = std::max(0, n_bins - bins_per_octave);  // longest filter of octave 0
  const double longest = filter_scale / d.alpha[size_t(top)] * sample_rate / d.freqs[size_t(top)];
  MUSEFM_CHECK(longest <= kMaxFilterLength, "LibrosaCqtConfig: filters of ", longest,
               " samples are too long; raise fmin or n_bins");
}

MUSEFM_CONFIG_JSON(LibrosaCqtConfig);

// ---- LibrosaCqt ----------------------------------------------------------------------------
struct LibrosaCqt::Impl {
  struct Octave {
    int64_t n_fft = 0, hop = 0, row0 = 0, rows = 0;
    at::Tensor basis;  // [rows, n_fft/2 + 1] complex64, CPU
  };
  // Everything that depends on the tuning: the early-downsampling factor and octave bases.
  struct Plan {
    int factor = 1;
    std::vector<Octave> octaves;
    std::mutex mutex;
    std::map<std::string, std::vector<at::Tensor>> per_device;

    std::vector<at::Tensor> bases(const at::Device& device) {
      std::lock_guard<std::mutex> lock(mutex);
      auto& slot = per_device[device.str()];
      if (slot.empty())
        for (const auto& o : octaves) slot.push_back(o.basis.to(device));
      return slot;
    }
  };

  std::shared_ptr<Plan> fixed;  // finite tuning: built by the constructor
  std::mutex mutex;
  std::map<double, std::shared_ptr<Plan>> by_tuning;  // estimated tunings (at most 100 values)

  static std::shared_ptr<Plan> build(const LibrosaCqtConfig& c, double tuning) {
    const Design d = design(c, tuning);
    const double nyquist = c.sample_rate / 2.0;
    MUSEFM_CHECK(d.cutoff <= nyquist, "LibrosaCqt: with tuning ", tuning,
                 " the top filter reaches ", d.cutoff, " Hz, above the Nyquist frequency ", nyquist,
                 " Hz; reduce n_bins");
    const int n_octaves = octaves_of(c), n_filters = std::min(c.bins_per_octave, c.n_bins);
    auto plan = std::make_shared<Plan>();
    plan->factor = early_factor(nyquist, d.cutoff, c.hop_length, n_octaves);
    const double sr = c.sample_rate / double(plan->factor);  // __early_downsample's new sr
    double my_sr = sr;
    int64_t hop = c.hop_length / plan->factor;
    for (int i = 0; i < n_octaves; ++i) {  // octave 0 = the highest bins
      Octave o;
      const int64_t end = c.n_bins - int64_t(n_filters) * i;
      o.row0 = std::max<int64_t>(0, end - n_filters);
      o.rows = end - o.row0;
      o.hop = hop;
      std::vector<double> row_scale;
      for (int64_t k = o.row0; k < end; ++k) {
        const double length = c.filter_scale / d.alpha[size_t(k)] * sr / d.freqs[size_t(k)];
        row_scale.push_back(std::sqrt(sr / my_sr) / (c.scale ? std::sqrt(length) : 1.0));
      }
      o.basis = filter_fft(my_sr, d.freqs.data() + o.row0, d.alpha.data() + o.row0, o.rows,
                           c.filter_scale, c.sparsity, row_scale, o.n_fft);
      plan->octaves.push_back(std::move(o));
      if (hop % 2 == 0) hop /= 2, my_sr /= 2.0;
    }
    return plan;
  }

  std::shared_ptr<Plan> plan_for(const LibrosaCqtConfig& c, double tuning) {
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = by_tuning[tuning];
    if (!slot) slot = build(c, tuning);
    return slot;
  }

  // vqt's octave loop on a [B, L] float32 batch; returns |V| as [B, n_bins, T].
  static at::Tensor run(Plan& plan, const LibrosaCqtConfig& c, const at::Tensor& x) {
    const auto device = x.device();
    MUSEFM_CHECK(x.size(1) >= plan.factor, "LibrosaCqt: input of ", x.size(1),
                 " samples is too short for the early downsampling by ", plan.factor);
    const int64_t frames =
        trimmed_frames(x.size(1), plan.factor, c.hop_length, int(plan.octaves.size()));
    const std::vector<at::Tensor> bases = plan.bases(device);
    at::Tensor out = at::empty({x.size(0), c.n_bins, frames}, x.options());
    at::Tensor y = x, y_cpu;  // y: this octave's signal on the device; y_cpu feeds soxr
    if (plan.factor > 1 || plan.octaves.size() > 1) y_cpu = x.to(at::kCPU).contiguous();
    if (plan.factor > 1) {  // __early_downsample
      y_cpu = soxr_downsample(y_cpu, plan.factor);
      if (!c.scale) y_cpu = (y_cpu.to(at::kDouble) * std::sqrt(double(plan.factor))).to(at::kFloat);
      y = y_cpu.to(device);
    }
    for (size_t i = 0; i < plan.octaves.size(); ++i) {
      const Octave& o = plan.octaves[i];
      // __cqt_response: stft(window="ones", center=True, pad_mode="constant"), basis @ D.
      const at::Tensor ones = at::ones({o.n_fft}, x.options());
      const at::Tensor spec = at::stft(y, o.n_fft, o.hop, o.n_fft, ones, /*center=*/true,
                                       "constant", /*normalized=*/false, /*onesided=*/true,
                                       /*return_complex=*/true);
      const at::Tensor response = at::matmul(bases[i], spec);  // [B, rows, T_i]
      out.narrow(1, o.row0, o.rows).copy_(response.narrow(-1, 0, frames).abs());
      if (i + 1 < plan.octaves.size() && o.hop % 2 == 0) {  // audio.resample(2 -> 1)
        y_cpu = soxr_downsample(y_cpu, 2);
        y = y_cpu.to(device);
      }
    }
    return out;
  }
};

LibrosaCqt::LibrosaCqt(LibrosaCqtConfig config)
    : config_(std::move(config)), impl_(std::make_shared<Impl>()) {
  config_.validate();
  if (!std::isnan(config_.tuning)) impl_->fixed = Impl::build(config_, config_.tuning);
}

LibrosaCqt::~LibrosaCqt() = default;

int64_t LibrosaCqt::num_frames(int64_t n) const {
  int factor = 1;
  if (impl_->fixed) {
    factor = impl_->fixed->factor;
  } else {  // the factor could move with an estimated tuning only for cutoffs near a power of 2
    const Design d = design(config_, 0.0);
    factor =
        early_factor(config_.sample_rate / 2.0, d.cutoff, config_.hop_length, octaves_of(config_));
  }
  return trimmed_frames(n, factor, config_.hop_length, octaves_of(config_));
}

at::Tensor LibrosaCqt::operator()(const at::Tensor& waveform) const {
  bool unbatched = false;
  // librosa computes in the input's precision; this port always computes in float32.
  const at::Tensor x = as_batch(waveform, "LibrosaCqt", unbatched).to(at::kFloat);
  at::Tensor out;
  if (impl_->fixed) {
    out = Impl::run(*impl_->fixed, config_, x);
  } else {  // tuning=None: estimate_tuning(y, sr, bins_per_octave) per signal
    std::vector<at::Tensor> items;
    for (int64_t b = 0; b < x.size(0); ++b) {
      const double tuning = estimate_tuning(x[b], config_.sample_rate, config_.bins_per_octave);
      items.push_back(Impl::run(*impl_->plan_for(config_, tuning), config_, x.narrow(0, b, 1)));
    }
    out = items.size() == 1 ? items[0] : at::cat(items, 0);
  }
  return unbatched ? out.squeeze(0) : out;
}

}  // namespace musefm
