// RedisAttesterDirectory: one Redis HASH per attester.
//
// Key `attestd:attester:{<agent_id>}` (braces: a cluster hash tag, so every
// operation touches one slot), fields: ak_tpm (raw TPM2B_PUBLIC bytes),
// tpm_policy, trusted ("1"/"0"), and, once a quote passed, the clock
// baseline clock, reset_count, restart_count (decimal strings).
//
// Put and AdvanceClock are Lua scripts, hence atomic. The clock comparison
// runs on decimal strings inside Lua, so 64-bit clocks stay exact (Lua
// numbers are doubles). Keeps every AttesterDirectory promise; not reaching
// Redis is kUnavailable; a hash that is not an attester's is kInternal.
#pragma once

#include <memory>
#include <string>

#include "store/attester_directory.h"
#include "store/redis/redis_pool.h"

namespace attestd {

class RedisAttesterDirectory final : public AttesterDirectory {
 public:
  explicit RedisAttesterDirectory(std::shared_ptr<RedisPool> pool);

  // The Redis key of an attester (for tests and operators).
  static std::string KeyFor(std::string_view agent_id);

  // For scripts of other stores that read an attester in the same step
  // (RedisSessionStore): the fields to HMGET, in this order, and the
  // attester from that HMGET's reply (kNotFound when it has no AK).
  static constexpr const char* kFields[] = {"ak_tpm", "tpm_policy",  "trusted",
                                            "clock",  "reset_count", "restart_count"};
  static Result<Attester> FromFields(const RedisValue& hmget);
  // Lua: `local function clock_advances(key, clock, reset, restart)` that
  // moves the baseline when ClockAdvances allows it (true), else false.
  static const std::string& ClockAdvancesLua();

  Result<Attester> Get(std::string_view agent_id) override;
  Status Put(std::string_view agent_id, const Attester& attester) override;
  Status Remove(std::string_view agent_id) override;
  Result<ClockAdvance> AdvanceClock(std::string_view agent_id, const ClockState& observed) override;

 private:
  std::shared_ptr<RedisPool> pool_;
};

}  // namespace attestd
