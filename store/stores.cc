#include "store/stores.h"

#include "store/memory/memory_agent_store.h"
#include "store/memory/memory_attester_directory.h"
#include "store/memory/memory_poll_schedule.h"
#include "store/memory/memory_registrar_store.h"
#include "store/memory/memory_session_store.h"
#include "store/memory/memory_work_queue.h"
#include "store/redis/redis_agent_store.h"
#include "store/redis/redis_attester_directory.h"
#include "store/redis/redis_poll_schedule.h"
#include "store/redis/redis_pool.h"
#include "store/redis/redis_registrar_store.h"
#include "store/redis/redis_session_store.h"
#include "store/redis/redis_url.h"
#include "store/redis/redis_work_queue.h"

namespace attestd {
namespace {

// One pool shared by the session store and the queue's non-blocking
// commands; the queue opens its blocking connections separately. Nothing
// connects yet, so this succeeds while Redis is down.
Result<Stores> OpenRedisStores(const StoreOptions& options) {
  Result<RedisEndpoint> endpoint = ParseRedisUrl(options.url);
  if (!endpoint.ok()) return endpoint.status();
  if (!options.password.empty()) endpoint->password = options.password;
  if (!endpoint->user.empty() && endpoint->password.empty()) {
    return InvalidArgument("Redis user '" + endpoint->user + "' needs a password");
  }
  if (options.pool_size < 1) return InvalidArgument("store pool size must be at least 1");
  RedisPoolOptions pool_options;
  pool_options.endpoint = *endpoint;
  pool_options.size = options.pool_size;
  pool_options.connect_timeout_ms = options.connect_timeout_ms;
  pool_options.command_timeout_ms = options.command_timeout_ms;
  auto pool = std::make_shared<RedisPool>(pool_options);
  RedisWorkQueueOptions queue_options{options.reclaim_after_ms, options.consumer_name};
  Stores stores;
  stores.sessions = std::make_shared<RedisSessionStore>(pool, options.max_sessions);
  stores.queue = std::make_shared<RedisWorkQueue>(pool, queue_options);
  stores.redis = pool;
  // In Redis, so every attestd process sharing the store appraises with
  // what the registrar or verifier of any of them enrolled.
  stores.attesters = std::make_shared<RedisAttesterDirectory>(pool);
  stores.registrar = std::make_shared<RedisRegistrarStore>(pool);
  stores.agents = std::make_shared<RedisAgentStore>(pool);
  stores.policies = std::make_shared<RedisPolicyStore>(pool);
  stores.pull = std::make_shared<RedisPollSchedule>(pool);
  return stores;
}

}  // namespace

Result<Stores> OpenStores(const StoreOptions& options) {
  if (options.url == "memory") {
    Stores stores;
    stores.sessions = std::make_shared<MemorySessionStore>(options.max_sessions);
    stores.queue = std::make_shared<MemoryWorkQueue>();
    stores.attesters = std::make_shared<MemoryAttesterDirectory>();
    stores.registrar = std::make_shared<MemoryRegistrarStore>();
    stores.agents = std::make_shared<MemoryAgentStore>();
    stores.policies = std::make_shared<MemoryPolicyStore>();
    stores.pull = std::make_shared<MemoryPollSchedule>();
    return stores;
  }
  if (IsRedisUrl(options.url)) return OpenRedisStores(options);
  return InvalidArgument(
      "unsupported store URL (want memory, redis://host:port/db or "
      "redis+unix:///path): " +
      RedactStoreUrl(options.url));
}

}  // namespace attestd
