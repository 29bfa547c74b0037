// Test helper: a small pretraining data set from the real-music fixture — a fairseq manifest of
// clips of different lengths and offsets, and 100 Hz labels that are a learnable function of
// the audio (log-energy of each 10 ms frame quantised to 8 levels).
#pragma once

#include <string>

#include "musefm/train.h"

namespace musefm::test {

/// Writes <dir>/<split>.tsv, <dir>/<split>.km, <dir>/dict.km.txt and the audio under
/// <dir>/audio; `items` clips of 1.5 to 3 s. Returns `dir`.
std::string make_pretrain_data(const std::string& dir, int items,
                               const std::string& split = "train");

/// configs/pretrain/tiny-cpu.json with short crops and small batches for tests, reading `dir`.
PretrainConfig tiny_pretrain_config(const std::string& dir);

/// The recipe overrides of tiny_pretrain_config() as `--set` CLI arguments.
std::string tiny_pretrain_cli_args(const std::string& dir);

}  // namespace musefm::test
