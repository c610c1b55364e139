#include "store/redis/redis_registrar_store.h"

#include <algorithm>
#include <charconv>

namespace attestd {

namespace {

constexpr char kPrefix[] = "attestd:registrar:";

// KEYS[1] agent; ARGV aik_tpm, ek_tpm, ekcert, mtls_cert, ip, port,
// challenge_key, agent_id.
const RedisScript kRegister(R"lua(
local cur = redis.call('HMGET', KEYS[1], 'aik_tpm', 'ek_tpm', 'ekcert', 'regcount')
local regcount = 1
if cur[1] then
  if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] or cur[3] ~= ARGV[3] then return {'forbidden'} end
  regcount = (tonumber(cur[4]) or 0) + 1
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'agent_id', ARGV[8], 'aik_tpm', ARGV[1], 'ek_tpm', ARGV[2],
           'ekcert', ARGV[3], 'mtls_cert', ARGV[4], 'ip', ARGV[5], 'port', ARGV[6],
           'challenge_key', ARGV[7], 'regcount', regcount, 'active', '0')
return {'ok', regcount}
)lua");

// KEYS[1] agent; ARGV[1] expected challenge key; ARGV[2] 'activate' | 'delete'.
// The compared key comes from the server's own read, never from a client.
const RedisScript kWithChallenge(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local key = redis.call('HGET', KEYS[1], 'challenge_key')
if not key or key == '' or key ~= ARGV[1] then return 'conflict' end
if ARGV[2] == 'delete' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'active', '1')
  redis.call('HDEL', KEYS[1], 'challenge_key')
end
return 'ok'
)lua");

bool ParseInt64(std::string_view text, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

Status ChallengeOutcome(const RedisValue& v) {
  std::string_view tag = v.str();
  if (tag == "ok") return Status::Ok();
  if (tag == "missing") return NotFound("unknown agent");
  if (tag == "conflict") return Conflict("the registration's challenge changed");
  return Internal("redis: unexpected answer from a registrar script");
}

}  // namespace

std::string RedisRegistrarStore::Key(std::string_view agent_id) {
  std::string key = kPrefix;
  key += '{';
  key += agent_id;
  key += '}';
  return key;
}

Result<RegistrarAgent> RedisRegistrarStore::Register(const RegistrarAgent& agent) {
  std::string key = Key(agent.agent_id);
  std::string port = std::to_string(agent.port);
  auto r = pool_->Eval(kRegister, {key},
                       {agent.aik_tpm, agent.ek_tpm, agent.ekcert, agent.mtls_cert, agent.ip, port,
                        agent.challenge_key, agent.agent_id});
  if (!r.ok()) return r.status();
  std::string_view tag = (*r)[0].str();
  if (tag == "forbidden") {
    return Status(StatusCode::kPermissionDenied, "agent is registered with another TPM identity");
  }
  if (tag != "ok") return Internal("redis: unexpected answer from the register script");
  RegistrarAgent stored = agent;
  stored.active = false;
  stored.regcount = (*r)[1].integer();
  return stored;
}

Result<RegistrarAgent> RedisRegistrarStore::Get(std::string_view agent_id) {
  auto r = pool_->Command({"HGETALL", Key(agent_id)});
  if (!r.ok()) return r.status();
  if (r->size() == 0) return NotFound("unknown agent");
  RegistrarAgent a;
  a.agent_id = std::string(agent_id);
  for (size_t i = 0; i + 1 < r->size(); i += 2) {
    std::string_view name = (*r)[i].str();
    RedisValue value = (*r)[i + 1];
    if (name == "aik_tpm")
      a.aik_tpm = value.to_string();
    else if (name == "ek_tpm")
      a.ek_tpm = value.to_string();
    else if (name == "ekcert")
      a.ekcert = value.to_string();
    else if (name == "mtls_cert")
      a.mtls_cert = value.to_string();
    else if (name == "ip")
      a.ip = value.to_string();
    else if (name == "challenge_key")
      a.challenge_key = value.to_string();
    else if (name == "active")
      a.active = value.str() == "1";
    else if (name == "port") {
      int64_t p = 0;
      if (ParseInt64(value.str(), &p)) a.port = static_cast<int>(p);
    } else if (name == "regcount") {
      ParseInt64(value.str(), &a.regcount);
    }
  }
  if (a.aik_tpm.empty()) return Internal("stored registration has no aik_tpm");
  return a;
}

Status RedisRegistrarStore::Activate(std::string_view agent_id, std::string_view challenge_key) {
  auto r = pool_->Eval(kWithChallenge, {Key(agent_id)}, {challenge_key, "activate"});
  if (!r.ok()) return r.status();
  return ChallengeOutcome(*r);
}

Status RedisRegistrarStore::DeleteIfChallenge(std::string_view agent_id,
                                              std::string_view challenge_key) {
  auto r = pool_->Eval(kWithChallenge, {Key(agent_id)}, {challenge_key, "delete"});
  if (!r.ok()) return r.status();
  return ChallengeOutcome(*r);
}

Status RedisRegistrarStore::Delete(std::string_view agent_id) {
  auto r = pool_->Command({"DEL", Key(agent_id)});
  if (!r.ok()) return r.status();
  if (r->integer() == 0) return NotFound("unknown agent");
  return Status::Ok();
}

Result<std::vector<std::string>> RedisRegistrarStore::ListActive() {
  auto keys = ScanKeys(*pool_, kPrefix);
  if (!keys.ok()) return keys.status();
  std::vector<std::string> out;
  for (const std::string& key : *keys) {
    auto fields = pool_->Command({"HMGET", key, "agent_id", "active"});
    if (!fields.ok()) return fields.status();
    if ((*fields)[1].str() == "1" && !(*fields)[0].is_nil())
      out.push_back((*fields)[0].to_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace attestd
