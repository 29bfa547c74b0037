// librosa.feature.chroma_cqt (librosa 0.11) defaults: |cqt| with 36 bins per octave over 7
// octaves (tuning estimated), folded to 12 pitch classes by filters.cq_to_chroma and
// normalised per frame by its maximum (util.normalize(norm=inf)).
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/config_fields.h"
#include "core/tensor_util.h"
#include "features/filterbanks.h"
#include "musefm/features.h"

namespace musefm {
using namespace features_detail;
using namespace detail;

namespace {
// chroma_cqt's call: cqt(y, sr, hop_length, fmin=None (C1), n_bins=n_octaves * bins_per_octave,
// bins_per_octave, tuning); every other argument at its default.
LibrosaCqtConfig cqt_config(const ChromaConfig& c) {
  LibrosaCqtConfig q;
  q.sample_rate = c.sample_rate;
  q.hop_length = c.hop_length;
  q.n_bins = c.n_octaves * c.bins_per_octave;
  q.bins_per_octave = c.bins_per_octave;
  q.tuning = c.tuning;
  return q;
}

const ChromaConfig& validated(const ChromaConfig& c) {
  c.validate();
  return c;
}

// filters.cq_to_chroma(n_input, bins_per_octave, n_chroma, fmin=None, base_c=True): each CQT
// bin j goes to pitch class ((j + n_merge // 2) mod bins_per_octave) // n_merge, weight 1 (the
// identity repeated n_merge times, rolled left by n_merge // 2, tiled over the octaves). fmin
// is C1 (MIDI 24), so the final roll that rotates the first bin to C is 0.
at::Tensor cq_to_chroma(int n_input, int bins_per_octave, int n_chroma) {
  const int n_merge = bins_per_octave / n_chroma;
  std::vector<float> m(size_t(n_chroma) * size_t(n_input), 0.0f);
  for (int j = 0; j < n_input; ++j) {
    const int pitch_class = ((j % bins_per_octave + n_merge / 2) % bins_per_octave) / n_merge;
    m[size_t(pitch_class) * size_t(n_input) + size_t(j)] = 1.0f;
  }
  return at::from_blob(m.data(), {n_chroma, n_input}, at::kFloat).clone();
}

}  // namespace

// ---- ChromaConfig ----------------------------------------------------------------------------
MUSEFM_CONFIG_FIELDS(ChromaConfig, "ChromaConfig", sample_rate, hop_length, n_chroma, n_octaves,
                     bins_per_octave, tuning, normalize);
MUSEFM_CONFIG_NULLABLE(ChromaConfig, "tuning");

void ChromaConfig::validate() const {
  MUSEFM_CHECK(sample_rate > 0, "ChromaConfig.sample_rate must be positive, got ", sample_rate);
  MUSEFM_CHECK(hop_length > 0, "ChromaConfig.hop_length must be positive, got ", hop_length);
  MUSEFM_CHECK(n_chroma > 0, "ChromaConfig.n_chroma must be positive, got ", n_chroma);
  MUSEFM_CHECK(n_octaves > 0 && n_octaves <= 16, "ChromaConfig.n_octaves must be in [1, 16], got ",
               n_octaves);
  MUSEFM_CHECK(bins_per_octave > 0 && bins_per_octave <= 1000,
               "ChromaConfig.bins_per_octave must be in [1, 1000], got ", bins_per_octave);
  MUSEFM_CHECK(bins_per_octave % n_chroma == 0, "ChromaConfig.bins_per_octave (", bins_per_octave,
               ") must be a multiple of n_chroma (", n_chroma, ")");
  MUSEFM_CHECK(!std::isinf(tuning), "ChromaConfig.tuning must be finite (or NaN to estimate it)");
  MUSEFM_CHECK(hop_length % (1 << (n_octaves - 1)) == 0,
               "ChromaConfig.hop_length must be divisible by 2^(n_octaves - 1) = ",
               1 << (n_octaves - 1), ", got ", hop_length);
  try {
    cqt_config(*this).validate();
  } catch (const Error& e) {
    MUSEFM_FAIL("ChromaConfig: ", e.what());
  }
}

MUSEFM_CONFIG_JSON(ChromaConfig);

// ---- Chroma ----------------------------------------------------------------------------------
Chroma::Chroma(ChromaConfig config)
    : config_(validated(config)),
      cqt_(cqt_config(config_)),
      cq_to_chroma_(cq_to_chroma(config_.n_octaves * config_.bins_per_octave,
                                 config_.bins_per_octave, config_.n_chroma)) {}

int64_t Chroma::num_frames(int64_t n) const { return cqt_.num_frames(n); }

at::Tensor Chroma::operator()(const at::Tensor& waveform) const {
  bool unbatched = false;
  const at::Tensor x = as_batch(waveform, "Chroma", unbatched);
  const at::Tensor C = cqt_(x);  // [B, n_bins, T] magnitudes
  // np.einsum("cf,...ft->...ct"); chroma[chroma < threshold=0] = 0 is a no-op on magnitudes.
  at::Tensor chroma = at::matmul(cq_to_chroma_.to(C.device()), C);
  if (config_.normalize) {
    // util.normalize(norm=inf, axis=-2): frames whose maximum is below float32's tiny stay 0.
    at::Tensor length = chroma.abs().amax(-2, /*keepdim=*/true);
    length = at::where(length < std::numeric_limits<float>::min(), at::ones_like(length), length);
    chroma = chroma / length;
  }
  chroma = chroma.contiguous();
  return unbatched ? chroma.squeeze(0) : chroma;
}

}  // namespace musefm
