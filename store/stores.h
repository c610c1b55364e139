// Opening the configured store: `memory`, `redis://[[user]:password@]host:port/db`
// or `redis+unix:///path/to/socket[?db=N][&user=U][&password=P]` (see
// redis_url.h). Error messages quote the URL with its password redacted.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "store/agent_store.h"
#include "store/attester_directory.h"
#include "store/policy_store.h"
#include "store/poll_schedule.h"
#include "store/registrar_store.h"
#include "store/session_store.h"
#include "store/work_queue.h"

namespace attestd {

struct StoreOptions {
  std::string url = "memory";
  // Redis AUTH password; when set, it overrides the URL's (so it can come
  // from a file or the environment instead of the command line).
  std::string password;
  int pool_size = 4;              // Redis connections (sized to HTTP + worker threads)
  int connect_timeout_ms = 500;   // per connection attempt
  int command_timeout_ms = 2000;  // per command (blocking reads use their own)
  int reclaim_after_ms = 30000;   // queue items idle this long are redelivered
  std::string consumer_name;      // this instance in the queue's consumer group
  // Live sessions at most (0: no cap); with Redis, across every instance
  // sharing it. At the cap, creating one is SessionCapReached().
  size_t max_sessions = 0;
};

class RedisPool;

struct Stores {
  std::shared_ptr<SessionStore> sessions;
  std::shared_ptr<WorkQueue> queue;
  // The connection pool behind a Redis store (for its error and reconnect
  // counters); null with the memory store.
  std::shared_ptr<RedisPool> redis;
  // What attestd trusts about each attester (verifiers read it, the
  // registrar and verifier enrolment write it). In Redis with a Redis
  // store, so every process sharing it appraises with the same trust.
  std::shared_ptr<AttesterDirectory> attesters;
  // The Keylime-compatible registrar's agents.
  std::shared_ptr<RegistrarStore> registrar;
  // The Keylime-compatible verifier's agents and named policies.
  std::shared_ptr<AgentStore> agents;
  std::shared_ptr<PolicyStore> policies;
  // When each pull-mode agent is next polled and which instance holds it.
  std::shared_ptr<PollSchedule> pull;
};

// kInvalidArgument for a URL of an unknown form. Opening a Redis store does
// not require Redis to be up: operations answer kUnavailable until it is.
Result<Stores> OpenStores(const StoreOptions& options);

}  // namespace attestd
