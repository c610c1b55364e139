#include "store/redis/redis_attester_directory.h"

#include <charconv>

namespace attestd {

namespace {

// ARGV: ak_tpm, tpm_policy, trusted. A changed AK drops the clock baseline.
const RedisScript kPut(R"lua(
local old = redis.call('HGET', KEYS[1], 'ak_tpm')
if old ~= ARGV[1] then
  redis.call('HDEL', KEYS[1], 'clock', 'reset_count', 'restart_count')
end
redis.call('HSET', KEYS[1], 'ak_tpm', ARGV[1], 'tpm_policy', ARGV[2], 'trusted', ARGV[3])
return 1
)lua");

// ARGV: clock, reset_count, restart_count as decimal strings without leading
// zeros. Returns {advanced (1/0), prev clock, prev reset, prev restart}, or
// {-1} when the attester does not exist. Mirrors ClockAdvances().
// Mirrors ClockAdvances() on decimal strings without leading zeros (Lua
// numbers are doubles; 64-bit clocks must stay exact). Moves the baseline
// of `key` when it may; returns whether it did, and the previous fields.
constexpr char kClockAdvancesLua[] = R"lua(
local function clock_cmp(a, b)
  if #a ~= #b then if #a < #b then return -1 else return 1 end end
  if a == b then return 0 end
  if a < b then return -1 else return 1 end
end
local function clock_advances(key, clock, reset, restart)
  local p = redis.call('HMGET', key, 'clock', 'reset_count', 'restart_count')
  local advances
  if not p[1] or not p[2] or not p[3] then
    advances = true
  else
    local r = clock_cmp(reset, p[2])
    if r ~= 0 then
      advances = r > 0
    else
      local s = clock_cmp(restart, p[3])
      if s ~= 0 then advances = s > 0 else advances = clock_cmp(clock, p[1]) > 0 end
    end
  end
  if advances then
    redis.call('HSET', key, 'clock', clock, 'reset_count', reset, 'restart_count', restart)
  end
  return advances, p
end
)lua";

// ARGV: clock, reset_count, restart_count. Returns {advanced (1/0), prev
// clock, prev reset, prev restart}, or {-1} when the attester does not exist.
const RedisScript kAdvanceClock(std::string(kClockAdvancesLua) + R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local advances, p = clock_advances(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if not p[1] or not p[2] or not p[3] then return {advances and 1 or 0} end
return {advances and 1 or 0, p[1], p[2], p[3]}
)lua");

template <typename T>
bool ParseDecimal(std::string_view s, T* out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

Result<ClockState> ParseClock(std::string_view clock, std::string_view reset,
                              std::string_view restart) {
  ClockState c;
  if (!ParseDecimal(clock, &c.clock) || !ParseDecimal(reset, &c.reset_count) ||
      !ParseDecimal(restart, &c.restart_count)) {
    return Internal("attester clock baseline is corrupt");
  }
  return c;
}

}  // namespace

RedisAttesterDirectory::RedisAttesterDirectory(std::shared_ptr<RedisPool> pool)
    : pool_(std::move(pool)) {}

std::string RedisAttesterDirectory::KeyFor(std::string_view agent_id) {
  return "attestd:attester:{" + std::string(agent_id) + "}";
}

Result<Attester> RedisAttesterDirectory::FromFields(const RedisValue& r) {
  if (!r.is_array() || r.size() != 6) return Internal("unexpected HMGET reply");
  if (r[0].is_nil()) return NotFound("unknown attester");
  Attester a;
  a.ak_tpm = r[0].to_string();
  a.tpm_policy = r[1].to_string();
  a.trusted = r[2].str() == "1";
  if (!r[3].is_nil()) {
    auto c = ParseClock(r[3].str(), r[4].str(), r[5].str());
    if (!c.ok()) return c.status();
    a.clock = *c;
  }
  return a;
}

const std::string& RedisAttesterDirectory::ClockAdvancesLua() {
  static const std::string kLua = kClockAdvancesLua;
  return kLua;
}

Result<Attester> RedisAttesterDirectory::Get(std::string_view agent_id) {
  std::string key = KeyFor(agent_id);
  auto r = pool_->Command(
      {"HMGET", key, kFields[0], kFields[1], kFields[2], kFields[3], kFields[4], kFields[5]});
  if (!r.ok()) return r.status();
  return FromFields(*r);
}

Status RedisAttesterDirectory::Put(std::string_view agent_id, const Attester& attester) {
  std::string key = KeyFor(agent_id);
  auto r = pool_->Eval(kPut, {key},
                       {attester.ak_tpm, attester.tpm_policy, attester.trusted ? "1" : "0"});
  return r.status();
}

Status RedisAttesterDirectory::Remove(std::string_view agent_id) {
  std::string key = KeyFor(agent_id);
  return pool_->Command({"DEL", key}).status();
}

Result<ClockAdvance> RedisAttesterDirectory::AdvanceClock(std::string_view agent_id,
                                                          const ClockState& observed) {
  std::string key = KeyFor(agent_id);
  std::string clock = std::to_string(observed.clock);
  std::string reset = std::to_string(observed.reset_count);
  std::string restart = std::to_string(observed.restart_count);
  auto r = pool_->Eval(kAdvanceClock, {key}, {clock, reset, restart});
  if (!r.ok()) return r.status();
  if (!r->is_array() || r->size() < 1 || !(*r)[0].is_integer()) {
    return Internal("unexpected reply from the clock script");
  }
  long long verdict = (*r)[0].integer();
  if (verdict < 0) return NotFound("unknown attester");
  ClockAdvance out;
  out.advanced = verdict == 1;
  if (r->size() == 4) {
    auto prev = ParseClock((*r)[1].str(), (*r)[2].str(), (*r)[3].str());
    if (!prev.ok()) return prev.status();
    out.previous = *prev;
  }
  return out;
}

}  // namespace attestd
