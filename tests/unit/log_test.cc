// The log's summary of repeats: an outage's flood of identical errors
// becomes a few lines that still say how many there were.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

// Runs `body` with stderr sent to a file; returns the lines written.
std::vector<std::string> CaptureStderr(const std::function<void()>& body) {
  testing::TempDir dir;
  std::string path = dir.path() + "/stderr";
  int file = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  body();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class LogRepeatTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogLevel(LogLevel::kInfo); }
  void TearDown() override { SetLogRepeatInterval(std::chrono::seconds(10)); }
};

TEST_F(LogRepeatTest, AFloodOfOneErrorIsWrittenOnceThenSummarised) {
  SetLogRepeatInterval(std::chrono::milliseconds(200));
  auto lines = CaptureStderr([] {
    for (int i = 0; i < 20000; ++i) {
      std::string ms = std::to_string(i % 97);  // per-request fields do not count
      LogWarn("request", {{"route", "/x"}, {"status", "503"}, {"duration_ms", ms}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    LogWarn("request", {{"route", "/x"}, {"status", "503"}, {"duration_ms", "1"}});
  });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].find("repeated="), std::string::npos);
  EXPECT_NE(lines[1].find("repeated=19999 "), std::string::npos) << lines[1];
}

TEST_F(LogRepeatTest, DifferentTroublesAndInfoLinesAreAllWritten) {
  SetLogRepeatInterval(std::chrono::seconds(10));
  auto lines = CaptureStderr([] {
    for (int i = 0; i < 3; ++i) {
      LogWarn("request", {{"route", "/a"}, {"status", "503"}});
      LogWarn("request", {{"route", "/b"}, {"status", "503"}});
      LogError("store down", {{"error", "connection refused"}});
      LogInfo("request", {{"route", "/a"}, {"status", "200"}});
    }
  });
  // Three kinds of trouble once each, and every info line.
  EXPECT_EQ(lines.size(), 3u + 3u);
}

TEST_F(LogRepeatTest, ZeroIntervalWritesEveryLine) {
  SetLogRepeatInterval(std::chrono::milliseconds(0));
  auto lines = CaptureStderr([] {
    for (int i = 0; i < 50; ++i) LogError("same", {{"k", "v"}});
  });
  EXPECT_EQ(lines.size(), 50u);
}

}  // namespace
}  // namespace attestd
