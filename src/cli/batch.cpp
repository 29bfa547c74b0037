#include "cli/batch.h"

#include <cstdio>

#include "cli/commands.h"
#include "cli/progress.h"
#include "musefm/error.h"

namespace musefm::cli {

FileBatchSummary run_batch(const std::vector<FileInput>& inputs, const std::string& out_dir,
                           bool overwrite, const std::string& label, const std::string& extension,
                           size_t group, const std::function<void(std::vector<FileJob>&)>& process,
                           const std::string& failures_name) {
  const FileBatchSummary s =
      run_file_batch(inputs, out_dir, overwrite, label, extension, group, process,
                     progress_callbacks("\nmusefm: error: ", ""), failures_name);
  std::printf("%d written, %d already done (skipped), %d failed%s\n", s.written, s.skipped,
              s.failed, s.failed ? (" — see " + s.failures_path).c_str() : "");
  if (s.written > 0 && s.elapsed_s > 0)
    std::printf("%.1f s of audio in %.1f s: %.2f files/s, %.1fx real time\n", s.audio_s,
                s.elapsed_s, s.written / s.elapsed_s, s.audio_s / s.elapsed_s);
  if (s.failed) exit_code() = 1;
  return s;
}

void run_batch(const std::vector<FileInput>& inputs, const std::string& out_dir, bool overwrite,
               const std::string& label, const std::string& extension,
               const std::function<void(const std::string&, const std::string&)>& process) {
  run_batch(inputs, out_dir, overwrite, label, extension, 1, [&](std::vector<FileJob>& jobs) {
    for (auto& j : jobs) {
      try {
        process(j.input, j.output);
      } catch (const Error& e) {
        j.error = e.what();
      }
    }
  });
}

}  // namespace musefm::cli
