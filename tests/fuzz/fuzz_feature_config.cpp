// libFuzzer target: arbitrary text through every config's strict JSON parser and the
// fairseq manifest parser (also pretraining recipes).
#include <cstddef>
#include <cstdint>
#include <string>

#include "musefm/encoder_config.h"
#include "musefm/extract.h"
#include "musefm/features.h"
#include "musefm/manifest.h"
#include "musefm/teachers.h"
#include "musefm/train.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    musefm::ExtractConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {  // fairseq manifests are line-oriented text as well
    musefm::parse_manifest(text, "fuzz");
  } catch (const musefm::Error&) {
  }
  try {
    musefm::MelConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::KaldiMfccConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::NnAudioCqtConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::LibrosaCqtConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::ChromaConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::EncoderConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {
    musefm::KMeansConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  try {  // pretraining recipes (sections, an inline model, strict keys)
    musefm::PretrainConfig::from_json(text);
  } catch (const musefm::Error&) {
  }
  return 0;
}
