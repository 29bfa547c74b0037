// Internal: the family-specific parts of EncoderConfig (frame rate, checks), without libtorch,
// for encoder_config.cpp. Implemented in family.cpp through the family registry.
#pragma once

#include "musefm/encoder_config.h"

namespace musefm::model_detail {

/// Output frames per second of a model of this config's family.
double family_frame_rate(const EncoderConfig& c);
/// The checks that only this config's family makes.
void validate_for_family(const EncoderConfig& c);

}  // namespace musefm::model_detail
