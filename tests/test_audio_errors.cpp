// Every bad input gives a musefm::Error that names the file and the reason; nothing crashes.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "musefm/audio.h"
#include "support/test_support.h"

namespace musefm {
namespace {

// Runs load_audio(path) and returns the error message ("" if it succeeded).
std::string load_error(const std::string& path) {
  try {
    load_audio(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_error(const std::string& path, const std::string& reason) {
  const std::string msg = load_error(path);
  ASSERT_FALSE(msg.empty()) << "no error for " << path;
  EXPECT_NE(msg.find("'" + path + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(reason), std::string::npos) << msg;
}

std::string wav_of(const std::vector<float>& x, int format = SF_FORMAT_WAV | SF_FORMAT_PCM_16) {
  const std::string path = test::temp_dir() + "/x.wav";
  test::write_sndfile(path, x, 1, 24000, format);
  return path;
}

TEST(AudioErrors, MissingFile) { expect_error("/nonexistent/song.wav", "no such file"); }

TEST(AudioErrors, Directory) { expect_error(test::temp_dir(), "is a directory"); }

TEST(AudioErrors, EmptyFile) {
  const std::string p = test::temp_dir() + "/empty.wav";
  test::write_bytes(p, "");
  expect_error(p, "file is empty (0 bytes)");
}

TEST(AudioErrors, UnsupportedFormat) {
  const std::string p = test::temp_dir() + "/notes.txt";
  test::write_bytes(p, "these are not audio samples, just some text in a file\n");
  expect_error(p, "unsupported or corrupt audio file");
}

TEST(AudioErrors, ZeroLengthAudio) { expect_error(wav_of({}), "contains no audio samples"); }

TEST(AudioErrors, TruncatedWav) {
  const std::string p = wav_of(std::vector<float>(24000, 0.25f));
  std::filesystem::resize_file(p, 44 + 2 * 10000);  // header says 24000 frames
  expect_error(p, "truncated");
}

TEST(AudioErrors, TruncatedFlac) {
  std::vector<float> x(48000);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(0.3 * std::sin(0.05 * double(i) * (1 + i % 7)));
  const std::string p = test::temp_dir() + "/x.flac";
  test::write_sndfile(p, x, 1, 24000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  const std::string msg = load_error(p);
  ASSERT_FALSE(msg.empty());
  EXPECT_NE(msg.find("'" + p + "'"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
              msg.find("corrupt") != std::string::npos)
      << msg;
}

TEST(AudioErrors, CorruptOggPayload) {
  std::string bytes = test::read_bytes(test::fixture("real_music.ogg"));
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 4000; ++i) bytes[i] = char(i * 131);
  const std::string p = test::temp_dir() + "/corrupt.ogg";
  test::write_bytes(p, bytes);
  const std::string msg = load_error(p);
  ASSERT_FALSE(msg.empty()) << "a corrupted Vorbis stream decoded without error";
  EXPECT_NE(msg.find("'" + p + "'"), std::string::npos) << msg;
}

TEST(AudioErrors, NanAndInfSamples) {
  std::vector<float> x(1000, 0.1f);
  x[123] = std::numeric_limits<float>::quiet_NaN();
  expect_error(wav_of(x, SF_FORMAT_WAV | SF_FORMAT_FLOAT), "non-finite sample (NaN) at frame 123");
  x[123] = 0.f;
  x[777] = std::numeric_limits<float>::infinity();
  expect_error(wav_of(x, SF_FORMAT_WAV | SF_FORMAT_FLOAT), "non-finite sample (Inf) at frame 777");
  AudioLoadOptions opt;
  opt.check_finite = false;
  opt.target_rate = 0;
  EXPECT_NO_THROW(load_audio(wav_of(x, SF_FORMAT_WAV | SF_FORMAT_FLOAT), opt));
}

TEST(AudioErrors, UnreadableFile) {
  const std::string p = wav_of(std::vector<float>(100, 0.1f));
  ASSERT_EQ(::chmod(p.c_str(), 0), 0);
  if (::geteuid() != 0) {
    expect_error(p, "permission denied");
    return;
  }
  // root reads everything: check in a child that drops to an unprivileged user.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(3);
    const std::string msg = load_error(p);
    (void)!::write(fds[1], msg.data(), msg.size());
    _exit(0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed to drop privileges";
  // The temp dir itself may be unreadable to the unprivileged user: either reason is correct.
  EXPECT_NE(msg.find("'" + p + "'"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("permission denied") != std::string::npos ||
              msg.find("no such file") != std::string::npos)
      << msg;
}

TEST(AudioErrors, BadOptions) {
  AudioLoadOptions opt;
  opt.target_rate = -5;
  EXPECT_THROW(load_audio(test::fixture("real_24k.wav"), opt), Error);
  EXPECT_THROW(AudioStream(test::fixture("real_24k.wav"), {}, 0), Error);
}

TEST(AudioErrors, MemoryInputs) {
  EXPECT_THROW(decode_audio_memory("", 0, "empty"), Error);
  const std::string junk(300, '\x7f');
  try {
    decode_audio_memory(junk.data(), junk.size(), "junk.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'junk.bin'"), std::string::npos);
  }
}

}  // namespace
}  // namespace musefm
