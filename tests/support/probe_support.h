// Probe test helpers: task folders written on the fly and in-memory tasks.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "musefm/probe.h"

namespace musefm::test {

/// Writes a task folder into `dir` (emptied first): task.json {"name": "t", <body>, "splits"},
/// one label file per split and one WAV per row (audio/<split>/<i>.wav, `seconds` long, 24 kHz:
/// a tone at `tone_hz(label)` plus a little noise; 0 Hz = noise only).
void write_task(const std::string& dir, const std::string& body,
                const std::map<std::string, std::vector<std::string>>& labels,
                double seconds = 0.25, double (*tone_hz)(const std::string& label) = nullptr);

/// The body of a two-class task, "low" and "high" (multiclass, accuracy + macro_f1, 24 kHz).
extern const char* const kTwoToneBody;
/// Its tones: low = G3 (196 Hz), high = G6 (1568 Hz); for write_task's `tone_hz`.
double two_tone_hz(const std::string& label);
/// Its labels: `train` / `valid` / `test` rows alternating low, high, low, ...
std::map<std::string, std::vector<std::string>> two_tone_rows(int train, int valid, int test);

/// Writes a beat task folder into `dir` (emptied first): per split `clips[split]` clips of
/// `seconds` s at 24 kHz, each a click track (20 ms decaying 1 kHz bursts on a beat grid of a
/// seeded tempo in 80..160 BPM and phase) over quiet noise, labelled with its beat times.
void write_beat_task(const std::string& dir, const std::map<std::string, int>& clips,
                     double seconds = 3.0);

/// In-memory multiclass task "synthetic" (labels c0..c{n-1}, metrics accuracy + macro_f1) whose
/// splits hold sizes[0..2] items labelled round-robin; no audio.
ProbeTask synthetic_task(int num_classes, const std::vector<int>& sizes);

/// In-memory task with labels from JSON per split: class indices (multiclass), 0/1 rows
/// (multilabel) or value rows (regression).
ProbeTask labelled_task(ProbeTaskType type, int num_outputs,
                        const std::vector<std::string>& metrics, const nlohmann::json& labels);

}  // namespace musefm::test
