#include "cli/batch.h"

#include <cstdio>

#include "cli/commands.h"
#include "cli/progress.h"

namespace musefm::cli {

FileBatchSummary run_batch(const std::vector<FileInput>& inputs, const std::string& out_dir,
                           bool overwrite, const std::string& label, const std::string& extension,
                           size_t group, const std::function<void(std::vector<FileJob>&)>& process,
                           const std::string& failures_name,
                           const std::function<void(const std::vector<FileJob>&)>& prefetch) {
  const FileBatchSummary s =
      run_file_batch(inputs, out_dir, overwrite, label, extension, group, process,
                     progress_callbacks("\nmusefm: error: ", ""), failures_name, prefetch);
  std::printf("%s\n", s.report().c_str());
  if (s.failed) exit_code() = 1;
  return s;
}

}  // namespace musefm::cli
