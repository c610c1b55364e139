#include "tests/support/processes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <thread>

namespace attestd::testing {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open(log_path.empty() ? "/dev/null" : log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                  0644);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::_Exit(127);
}

void StopProcess(pid_t pid, int grace_ms) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int waited = 0; waited < grace_ms; waited += 10) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

bool WaitForPort(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "attestd-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

RedisServer::RedisServer(std::string password) : password_(std::move(password)) { Start(); }

RedisServer::~RedisServer() { Stop(); }

namespace {

size_t Count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Until the log holds more than `before` "Ready" lines (this start's), or
// the process ended: a port that answers may be another process's.
bool WaitForRedisReady(pid_t pid, const std::string& log, size_t before, int timeout_ms) {
  constexpr std::string_view kReady = "Ready to accept connections";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Count(ReadAll(log), kReady) > before) return true;
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return false;  // e.g. the port was taken
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

bool RedisServer::Start() {
  // FreePort's port can be taken by another test process before
  // redis-server binds it; then the test would talk to that process (and
  // hang). A start counts once this server says it is ready; a port of our
  // own choosing is chosen again when it was not.
  const bool given = port_ != 0;
  const std::string log = dir_.path() + "/redis.log";
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!given) port_ = FreePort();
    size_t before = Count(ReadAll(log), "Ready to accept connections");
    // An empty --requirepass leaves the server open.
    pid_ = Spawn({"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",
                  "", "--appendonly", "no", "--dir", dir_.path(), "--daemonize", "no",
                  "--requirepass", password_},
                 log);
    if (pid_ > 0 && WaitForRedisReady(pid_, log, before, 5000) && WaitForPort(port_, 5000)) {
      return true;
    }
    StopProcess(pid_);
    pid_ = -1;
  }
  return false;
}

void RedisServer::Stop() {
  StopProcess(pid_);
  pid_ = -1;
}

std::string RedisServer::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

RedisPoolOptions RedisServer::pool_options(int size) const {
  RedisPoolOptions options;
  options.endpoint.host = "127.0.0.1";
  options.endpoint.port = port_;
  options.endpoint.password = password_;
  options.size = size;
  return options;
}

std::string RedisServer::Cli(const std::string& args) const {
  std::string auth = password_.empty() ? "" : " --no-auth-warning -a '" + password_ + "'";
  std::string cmd = "redis-cli -p " + std::to_string(port_) + auth + " " + args + " 2>&1";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    ::pclose(f);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace attestd::testing
