// Helpers shared by RedisPool and RedisPipeline; not for other users.
#pragma once

#include <signal.h>

#include <string_view>

#include "common/status.h"

struct redisContext;

namespace attestd::redis_internal {

// Blocks SIGPIPE in this thread while hiredis writes to a socket the peer may
// have closed, then discards the SIGPIPE that write raised, if any, before
// unblocking: the write fails with EPIPE instead of killing the process.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t sigpipe_;
  sigset_t previous_;
};

// The Status for an error reply: kUnavailable for "try later" errors,
// kInternal otherwise; the message is "redis: " + `text`.
Status ErrorReplyStatus(std::string_view text);

// False if the server closed this connection (or sent bytes nobody asked
// for) while it sat idle. Costs one syscall.
bool LooksAlive(redisContext* context);

}  // namespace attestd::redis_internal
