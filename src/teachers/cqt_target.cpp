// MERT's CQT reconstruction target (model_cqt_pred in mert_model.py): the nnAudio CQT of the
// clean audio at the label rate, cropped to the encoder's frames.
#include <ATen/ATen.h>

#include <cmath>

#include "musefm/features.h"
#include "musefm/teachers.h"

namespace musefm {

CqtTarget::CqtTarget(int sample_rate, double label_rate) {
  MUSEFM_CHECK(
      sample_rate > 0 && std::isfinite(label_rate) && label_rate > 0 && label_rate <= sample_rate,
      "CQT target: sample rate ", sample_rate, " and label rate ", label_rate,
      " must be positive with label rate <= sample rate");
  NnAudioCqtConfig c = NnAudioCqtConfig::mert();
  c.sample_rate = sample_rate;
  c.hop_length = int(double(sample_rate) / label_rate);  // sr // label_rate, as MERT
  cqt_ = std::make_shared<const NnAudioCqt>(c);
}

int64_t CqtTarget::bins() const { return cqt_->config().n_bins; }

at::Tensor CqtTarget::operator()(const at::Tensor& wav, int64_t frames) const {
  MUSEFM_CHECK(wav.dim() == 1 || wav.dim() == 2, "CQT target: waveform must be [L] or [B, L], ",
               "got ", wav.sizes());
  const int64_t L = wav.size(-1), available = cqt_->num_frames(L);
  MUSEFM_CHECK(frames >= 0 && frames <= available, "CQT target: ", frames, " frames asked of a ", L,
               "-sample waveform, which has ", available, " CQT frames");
  const at::Tensor c = (*cqt_)(wav);  // [bins, T'] or [B, bins, T']
  return c.transpose(-1, -2).narrow(-2, 0, frames).contiguous();
}

}  // namespace musefm
