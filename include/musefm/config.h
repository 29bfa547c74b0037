// Kept for one release: the encoder configuration now lives in musefm/encoder_config.h.
#pragma once

#include "musefm/encoder_config.h"
