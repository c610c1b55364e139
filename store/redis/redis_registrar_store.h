// RegistrarStore on Redis: one hash per agent at
// `attestd:registrar:{<agent_id>}`; the atomic operations are Lua scripts on
// that one key. ListActive scans the key space (SCAN MATCH), so it costs a
// pass over the keys; it serves the admin listing only.
#pragma once

#include <memory>

#include "store/redis/redis_pool.h"
#include "store/registrar_store.h"

namespace attestd {

class RedisRegistrarStore final : public RegistrarStore {
 public:
  explicit RedisRegistrarStore(std::shared_ptr<RedisPool> pool) : pool_(std::move(pool)) {}

  Result<RegistrarAgent> Register(const RegistrarAgent& agent) override;
  Result<RegistrarAgent> Get(std::string_view agent_id) override;
  Status Activate(std::string_view agent_id, std::string_view challenge_key) override;
  Status DeleteIfChallenge(std::string_view agent_id, std::string_view challenge_key) override;
  Status Delete(std::string_view agent_id) override;
  Result<std::vector<std::string>> ListActive() override;

  // The key of one agent.
  static std::string Key(std::string_view agent_id);

 private:
  std::shared_ptr<RedisPool> pool_;
};

}  // namespace attestd
