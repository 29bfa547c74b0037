// Internal: the command-line side of musefm::run_file_batch (musefm/file_batch.h) for the
// file-processing commands: a progress bar, the summary line and the exit status.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "musefm/file_batch.h"

namespace musefm::cli {

/// run_file_batch() with a progress bar and errors on stderr; prints FileBatchSummary::report()
/// and makes the process exit with status 1 when an item failed.
FileBatchSummary run_batch(const std::vector<FileInput>& inputs, const std::string& out_dir,
                           bool overwrite, const std::string& label, const std::string& extension,
                           size_t group, const std::function<void(std::vector<FileJob>&)>& process,
                           const std::string& failures_name = "failures.jsonl",
                           const std::function<void(const std::vector<FileJob>&)>& prefetch = {});

}  // namespace musefm::cli
