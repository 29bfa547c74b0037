#include <ATen/ATen.h>

#include "musefm/audio.h"
#include "musefm/features.h"

namespace musefm {

at::Tensor waveform_tensor(const Audio& audio) {
  MUSEFM_CHECK(audio.channels > 0, "waveform_tensor: audio has no channels");
  at::Tensor x = at::from_blob(const_cast<float*>(audio.samples.data()),
                               {audio.frames(), int64_t(audio.channels)}, at::kFloat)
                     .clone();
  return audio.channels == 1 ? x.squeeze(1) : x.t().contiguous();
}

}  // namespace musefm
