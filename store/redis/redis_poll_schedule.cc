#include "store/redis/redis_poll_schedule.h"

#include <string>

namespace attestd {
namespace {

constexpr char kDue[] = "attestd:{pull}:due";
constexpr char kLease[] = "attestd:{pull}:lease";

// Every script starts from Redis's clock, in ms, and splits a lease value
// "<expiry> <instance>".
#define POLL_PRELUDE                                                        \
  "local t = redis.call('TIME')\n"                                          \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
  "local function lease(v)\n"                                               \
  "  if not v then return nil, nil end\n"                                   \
  "  local sp = string.find(v, ' ', 1, true)\n"                             \
  "  return tonumber(string.sub(v, 1, sp - 1)), string.sub(v, sp + 1)\n"    \
  "end\n"

// %d keeps ms values integral in the text Lua writes.
const RedisScript kAdd(POLL_PRELUDE
                       "if ARGV[3] == '1' then\n"
                       "  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"
                       "else\n"
                       "  redis.call('ZADD', KEYS[1], 'NX', now + tonumber(ARGV[2]), ARGV[1])\n"
                       "end\n"
                       "return 1\n");

const RedisScript kClaim(
    POLL_PRELUDE
    "local inst, ms, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max * 4 + 64)\n"
    "local out = {}\n"
    "for _, id in ipairs(due) do\n"
    "  if #out >= max then break end\n"
    "  local exp, who = lease(redis.call('HGET', KEYS[2], id))\n"
    "  if not exp or who == inst or exp <= now then\n"
    "    redis.call('HSET', KEYS[2], id, string.format('%d', now + ms) .. ' ' .. inst)\n"
    "    redis.call('ZADD', KEYS[1], now + ms, id)\n"
    "    out[#out + 1] = id\n"
    "  end\n"
    "end\n"
    "return out\n");

// ARGV: instance, lease ms, agent ids. Returns the ids not renewed.
const RedisScript kRenew(
    POLL_PRELUDE
    "local inst, upto = ARGV[1], now + tonumber(ARGV[2])\n"
    "local lost = {}\n"
    "for i = 3, #ARGV do\n"
    "  local id = ARGV[i]\n"
    "  local exp, who = lease(redis.call('HGET', KEYS[2], id))\n"
    "  local due = tonumber(redis.call('ZSCORE', KEYS[1], id))\n"
    "  if who ~= inst or not due then\n"
    "    lost[#lost + 1] = id\n"
    "  else\n"
    "    if exp < upto then\n"
    "      redis.call('HSET', KEYS[2], id, string.format('%d', upto) .. ' ' .. inst)\n"
    "    end\n"
    "    if due < upto then redis.call('ZADD', KEYS[1], upto, id) end\n"
    "  end\n"
    "end\n"
    "return lost\n");

const RedisScript kRelease(
    POLL_PRELUDE
    "local id, inst = ARGV[1], ARGV[2]\n"
    "local exp, who = lease(redis.call('HGET', KEYS[2], id))\n"
    "if who ~= inst then return 0 end\n"
    "if not redis.call('ZSCORE', KEYS[1], id) then\n"
    "  redis.call('HDEL', KEYS[2], id)\n"
    "  return 0\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), id)\n"
    "redis.call('HSET', KEYS[2], id, string.format('%d', now + tonumber(ARGV[4])) .. ' ' .. inst)\n"
    "return 1\n");

const RedisScript kHolder(POLL_PRELUDE
                          "local exp, who = lease(redis.call('HGET', KEYS[2], ARGV[1]))\n"
                          "if exp and exp > now then return who end\n"
                          "return false\n");

}  // namespace

RedisPollSchedule::RedisPollSchedule(std::shared_ptr<RedisPool> pool) : pool_(std::move(pool)) {}

Status RedisPollSchedule::Add(std::string_view agent_id, int64_t due_in_ms) {
  std::string ms = std::to_string(due_in_ms);
  return pool_->Eval(kAdd, {kDue, kLease}, {agent_id, ms, "0"}).status();
}

Status RedisPollSchedule::Reschedule(std::string_view agent_id, int64_t due_in_ms) {
  std::string ms = std::to_string(due_in_ms);
  return pool_->Eval(kAdd, {kDue, kLease}, {agent_id, ms, "1"}).status();
}

Status RedisPollSchedule::Remove(std::string_view agent_id) {
  if (Status st = pool_->Command({"ZREM", kDue, agent_id}).status(); !st.ok()) return st;
  return pool_->Command({"HDEL", kLease, agent_id}).status();
}

Result<std::vector<std::string>> RedisPollSchedule::Claim(std::string_view instance,
                                                          int64_t lease_ms, size_t max) {
  std::string ms = std::to_string(lease_ms), n = std::to_string(max);
  auto r = pool_->Eval(kClaim, {kDue, kLease}, {instance, ms, n});
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  for (size_t i = 0; i < r->size(); ++i) out.push_back((*r)[i].to_string());
  return out;
}

Result<std::vector<std::string>> RedisPollSchedule::Renew(std::string_view instance,
                                                          const std::vector<std::string>& agent_ids,
                                                          int64_t lease_ms) {
  if (agent_ids.empty()) return std::vector<std::string>{};
  std::string ms = std::to_string(lease_ms);
  RedisArgs args{instance, ms};
  args.insert(args.end(), agent_ids.begin(), agent_ids.end());
  auto r = pool_->Eval(kRenew, {kDue, kLease}, args);
  if (!r.ok()) return r.status();
  std::vector<std::string> lost;
  for (size_t i = 0; i < r->size(); ++i) lost.push_back((*r)[i].to_string());
  return lost;
}

Result<bool> RedisPollSchedule::Release(std::string_view agent_id, std::string_view instance,
                                        int64_t next_in_ms, int64_t hold_ms) {
  std::string next = std::to_string(next_in_ms), hold = std::to_string(hold_ms);
  auto r = pool_->Eval(kRelease, {kDue, kLease}, {agent_id, instance, next, hold});
  if (!r.ok()) return r.status();
  return r->integer() == 1;
}

Result<std::optional<std::string>> RedisPollSchedule::Holder(std::string_view agent_id) {
  auto r = pool_->Eval(kHolder, {kDue, kLease}, {agent_id});
  if (!r.ok()) return r.status();
  if (!r->is_string()) return std::optional<std::string>();
  return std::optional<std::string>(r->to_string());
}

Result<int64_t> RedisPollSchedule::Size() {
  auto r = pool_->Command({"ZCARD", kDue});
  if (!r.ok()) return r.status();
  return static_cast<int64_t>(r->integer());
}

}  // namespace attestd
