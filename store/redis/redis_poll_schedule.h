// PollSchedule in Redis, shared by every attestd instance on the store:
// `attestd:{pull}:due` (sorted set, agent → due epoch ms) and
// `attestd:{pull}:lease` (hash, agent → "<expiry ms> <instance>"), changed
// only by Lua scripts that read the clock with TIME.
#pragma once

#include <memory>

#include "store/poll_schedule.h"
#include "store/redis/redis_pool.h"

namespace attestd {

class RedisPollSchedule : public PollSchedule {
 public:
  explicit RedisPollSchedule(std::shared_ptr<RedisPool> pool);

  Status Add(std::string_view agent_id, int64_t due_in_ms) override;
  Status Reschedule(std::string_view agent_id, int64_t due_in_ms) override;
  Status Remove(std::string_view agent_id) override;
  Result<std::vector<std::string>> Claim(std::string_view instance, int64_t lease_ms,
                                         size_t max) override;
  Result<std::vector<std::string>> Renew(std::string_view instance,
                                         const std::vector<std::string>& agent_ids,
                                         int64_t lease_ms) override;
  Result<bool> Release(std::string_view agent_id, std::string_view instance, int64_t next_in_ms,
                       int64_t hold_ms) override;
  Result<std::optional<std::string>> Holder(std::string_view agent_id) override;
  Result<int64_t> Size() override;

 private:
  std::shared_ptr<RedisPool> pool_;
};

}  // namespace attestd
