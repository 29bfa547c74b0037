// Internal: an audio file's header as the JSON the sidecars and `musefm info --json` write.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "musefm/audio.h"

namespace musefm::audio_detail {

/// {path, duration_s, sample_rate, channels}; with `full_header` also format, subtype, frames.
inline nlohmann::json audio_json(const std::string& path, const AudioInfo& i,
                                 bool full_header = false) {
  nlohmann::json j{{"path", path},
                   {"duration_s", i.duration_s()},
                   {"sample_rate", i.sample_rate},
                   {"channels", i.channels}};
  if (full_header) {
    j["format"] = i.format;
    j["subtype"] = i.subtype;
    j["frames"] = i.frames;
  }
  return j;
}

}  // namespace musefm::audio_detail
