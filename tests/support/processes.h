// Real dependencies for tests: a free loopback port, a redis-server of the
// test's own, and a way to stop child processes by PID.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "store/redis/redis_pool.h"

namespace attestd::testing {

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Starts `argv` as a child process (stdout/stderr to `log_path`, or /dev/null
// when empty). Returns its PID, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path = "");

// SIGTERM, then SIGKILL after `grace_ms`; reaps the child.
void StopProcess(pid_t pid, int grace_ms = 2000);

// True once something accepts TCP connections on 127.0.0.1:port.
bool WaitForPort(int port, int timeout_ms);

// A temporary directory removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A redis-server on a free loopback port, no persistence, stopped by PID
// when the object dies. Restart() keeps the port (for reconnect tests).
// With a password, the server requires it (--requirepass); url() still
// carries none, pool_options() and Cli() use it.
class RedisServer {
 public:
  explicit RedisServer(std::string password = "");
  ~RedisServer();
  bool ok() const { return pid_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 when stopped
  std::string url(int db = 0) const;
  // Pool options for this server (database 0), `size` connections.
  RedisPoolOptions pool_options(int size = 8) const;
  void Stop();
  bool Start();
  // Runs redis-cli against this server and returns its output (trimmed).
  std::string Cli(const std::string& args) const;

 private:
  TempDir dir_;
  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace attestd::testing
