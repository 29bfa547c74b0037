// Shared helpers for the test suites: fixture paths, temporary files, tensor comparison.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace musefm::test {

/// Path of a committed fixture (tests/fixtures/<name>).
std::string fixture(const std::string& name);
/// Path of a clip rendered by tests/render_midi.sh at test time.
std::string rendered(const std::string& name);
/// A fresh temporary directory, removed at process exit.
std::string temp_dir();
/// Loads a fixture .npy as a float32 tensor.
at::Tensor load_npy(const std::string& path);
/// Decodes a WAV fixture at its own rate as a [L] float32 tensor.
at::Tensor load_wav(const std::string& path, int* sample_rate = nullptr);
/// max |a - b| / max |b|
double max_rel_error(const at::Tensor& a, const at::Tensor& b);
/// Writes a WAV/other file with libsndfile (format = SF_FORMAT_* combination).
void write_sndfile(const std::string& path, const std::vector<float>& interleaved, int channels,
                   int rate, int format);
/// Writes raw bytes.
void write_bytes(const std::string& path, const std::string& bytes);
/// Reads raw bytes.
std::string read_bytes(const std::string& path);
/// Runs the musefm CLI with `args` (shell words); returns its exit status and, in `output`,
/// its stdout + stderr.
int run_cli(const std::string& args, std::string* output = nullptr);
/// The message of the musefm::Error that `f` throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);
/// Every tensor of a model dir's model.safetensors (copies, writable): encoders/<name>.
std::map<std::string, at::Tensor> model_weights(const std::string& name);

}  // namespace musefm::test
