// The model-family registry, keyed by EncoderConfig::model_type.
#include "model/family.h"
#include "model/family_config.h"

#include <utility>

#include "musefm/error.h"

namespace musefm::model_detail {

const ModelFamily& mert_family();     // model/mert.cpp
const ModelFamily& musicfm_family();  // model/musicfm.cpp

const ModelFamily& family_for(const EncoderConfig& c) {
  static const std::pair<ModelType, const ModelFamily& (*)()> kFamilies[] = {
      {ModelType::Mert, mert_family},
      {ModelType::MusicFm, musicfm_family},
  };
  for (const auto& [type, family] : kFamilies)
    if (c.model_type == type) return family();
  throw Error("no model family registered for model_type \"" + to_string(c.model_type) + "\"");
}

double family_frame_rate(const EncoderConfig& c) { return family_for(c).frame_rate(c); }

void validate_for_family(const EncoderConfig& c) { family_for(c).validate(c); }

void fuse_projections(const std::vector<FusedProjection>& fused, Weights& w) {
  for (const FusedProjection& f : fused)
    for (const char* t : {".weight", ".bias"}) {
      std::vector<at::Tensor> parts;
      for (const std::string& part : f.parts) parts.push_back(w.at(f.prefix + part + t));
      w[f.prefix + f.fused + t] = at::cat(parts).contiguous();
      for (const std::string& part : f.parts) w.erase(f.prefix + part + t);  // read fused only
    }
}

}  // namespace musefm::model_detail
