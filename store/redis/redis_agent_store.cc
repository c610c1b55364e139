#include "store/redis/redis_agent_store.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace attestd {

namespace {

constexpr char kAgentPrefix[] = "attestd:agent:";
constexpr char kPolicyPrefix[] = "attestd:policy:";
constexpr int kUpdateAttempts = 32;

// Sleeps a random time that grows with `attempt`, so writers that keep
// colliding on one agent spread out instead of starving one of them (seen
// with four writers on a loaded machine and no pause between attempts).
void BackOff(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  int cap_us = 100 << std::min(attempt, 8);  // 0.1 ms … 25.6 ms
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % (cap_us + 1)));
}

// KEYS[1] agent; ARGV[1] doc.
const RedisScript kCreate(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'rev', '1')
return 'ok'
)lua");

// KEYS[1] agent; ARGV[1] expected revision; ARGV[2] new doc.
const RedisScript kCompareAndSet(R"lua(
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return 'missing' end
if rev ~= ARGV[1] then return 'retry' end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'rev', tostring(tonumber(rev) + 1))
return 'ok'
)lua");

// KEYS[1] policy; ARGV name, tpm_policy, body, mode ('create' | 'replace').
const RedisScript kWritePolicy(R"lua(
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[4] == 'create' and exists then return 'exists' end
if ARGV[4] == 'replace' and not exists then return 'missing' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'tpm_policy', ARGV[2], 'body', ARGV[3],
           'digest', ARGV[5])
return 'ok'
)lua");

// Values of `field` of every key matching prefix*, sorted.
Result<std::vector<std::string>> ScanField(RedisPool& pool, const std::string& prefix,
                                           const char* field) {
  auto keys = ScanKeys(pool, prefix);
  if (!keys.ok()) return keys.status();
  std::vector<std::string> out;
  for (const std::string& key : *keys) {
    auto v = pool.Command({"HGET", key, field});
    if (!v.ok()) return v.status();
    if (!v->is_nil()) out.push_back(v->to_string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::string RedisAgentStore::Key(std::string_view agent_id) {
  return std::string(kAgentPrefix) + "{" + std::string(agent_id) + "}";
}

Status RedisAgentStore::Create(const VerifierAgent& agent) {
  auto r = pool_->Eval(kCreate, {Key(agent.agent_id)}, {EncodeAgent(agent)});
  if (!r.ok()) return r.status();
  if (r->str() == "exists") return Conflict("agent exists");
  if (r->str() != "ok") return Internal("redis: unexpected answer from the agent create script");
  return Status::Ok();
}

Result<std::pair<VerifierAgent, std::string>> RedisAgentStore::Read(std::string_view agent_id) {
  auto r = pool_->Command({"HMGET", Key(agent_id), "doc", "rev"});
  if (!r.ok()) return r.status();
  if ((*r)[0].is_nil()) return NotFound("unknown agent");
  auto agent = DecodeAgent((*r)[0].str());
  if (!agent.ok()) return agent.status();
  return std::make_pair(std::move(*agent), (*r)[1].to_string());
}

Result<VerifierAgent> RedisAgentStore::Get(std::string_view agent_id) {
  auto r = Read(agent_id);
  if (!r.ok()) return r.status();
  return std::move(r->first);
}

Result<VerifierAgent> RedisAgentStore::Update(std::string_view agent_id,
                                              const std::function<Status(VerifierAgent&)>& mutate) {
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    auto current = Read(agent_id);
    if (!current.ok()) return current.status();
    VerifierAgent agent = std::move(current->first);
    if (Status st = mutate(agent); !st.ok()) return st;
    agent.agent_id = std::string(agent_id);
    auto r = pool_->Eval(kCompareAndSet, {Key(agent_id)}, {current->second, EncodeAgent(agent)});
    if (!r.ok()) return r.status();
    if (r->str() == "ok") return agent;
    if (r->str() == "missing") return NotFound("unknown agent");
    if (r->str() != "retry")
      return Internal("redis: unexpected answer from the agent update script");
    BackOff(attempt);
  }
  return Unavailable("the agent kept changing during the update; retry");
}

Status RedisAgentStore::Delete(std::string_view agent_id) {
  auto r = pool_->Command({"DEL", Key(agent_id)});
  if (!r.ok()) return r.status();
  if (r->integer() == 0) return NotFound("unknown agent");
  return Status::Ok();
}

Result<std::vector<std::string>> RedisAgentStore::List() {
  // The id is inside the key's hash tag: read it from the key itself.
  auto keys = ScanKeys(*pool_, kAgentPrefix);
  if (!keys.ok()) return keys.status();
  std::vector<std::string> out;
  for (std::string_view key : *keys) {
    if (key.size() < sizeof(kAgentPrefix) + 1 || key.back() != '}') continue;
    key.remove_prefix(sizeof(kAgentPrefix));  // prefix and '{'
    key.remove_suffix(1);
    out.emplace_back(key);
  }
  std::sort(out.begin(), out.end());  // "{a}" sorts after "{ab}"; "a" does not
  return out;
}

std::string RedisPolicyStore::Key(PolicyKind kind, std::string_view name) {
  return std::string(kPolicyPrefix) + "{" + PolicyKindName(kind) + ":" + std::string(name) + "}";
}

Status RedisPolicyStore::Write(PolicyKind kind, const NamedPolicy& p, std::string_view mode) {
  auto r = pool_->Eval(kWritePolicy, {Key(kind, p.name)},
                       {p.name, p.tpm_policy, p.body, mode, p.digest});
  if (!r.ok()) return r.status();
  if (r->str() == "exists") return Conflict("a policy with this name exists");
  if (r->str() == "missing") return NotFound("no policy with this name");
  if (r->str() != "ok") return Internal("redis: unexpected answer from the policy script");
  return Status::Ok();
}

Status RedisPolicyStore::Create(PolicyKind kind, const NamedPolicy& policy) {
  return Write(kind, policy, "create");
}

Status RedisPolicyStore::Replace(PolicyKind kind, const NamedPolicy& policy) {
  return Write(kind, policy, "replace");
}

Result<NamedPolicy> RedisPolicyStore::Get(PolicyKind kind, std::string_view name) {
  auto r = pool_->Command({"HMGET", Key(kind, name), "name", "tpm_policy", "body", "digest"});
  if (!r.ok()) return r.status();
  if ((*r)[0].is_nil()) return NotFound("no policy with this name");
  return NamedPolicy{(*r)[0].to_string(), (*r)[1].to_string(), (*r)[2].to_string(),
                     (*r)[3].is_nil() ? std::string() : (*r)[3].to_string()};
}

Status RedisPolicyStore::Delete(PolicyKind kind, std::string_view name) {
  auto r = pool_->Command({"DEL", Key(kind, name)});
  if (!r.ok()) return r.status();
  if (r->integer() == 0) return NotFound("no policy with this name");
  return Status::Ok();
}

Result<std::vector<std::string>> RedisPolicyStore::List(PolicyKind kind) {
  return ScanField(*pool_, std::string(kPolicyPrefix) + "{" + PolicyKindName(kind) + ":", "name");
}

std::string RedisPolicyStore::BodyKey(std::string_view digest) {
  return "attestd:policy-body:{" + std::string(digest) + "}";
}

Status RedisPolicyStore::PutBody(std::string_view digest, std::string_view body) {
  // EXISTS first: a 20 MiB body crosses the network only when missing.
  std::string key = BodyKey(digest);
  auto exists = pool_->Command({"EXISTS", key});
  if (!exists.ok()) return exists.status();
  if (exists->integer() == 1) return Status::Ok();
  auto r = pool_->Command({"SET", key, body, "NX"});
  return r.status();
}

Result<std::string> RedisPolicyStore::GetDigest(PolicyKind kind, std::string_view name) {
  auto r = pool_->Command({"HMGET", Key(kind, name), "name", "digest"});
  if (!r.ok()) return r.status();
  if ((*r)[0].is_nil()) return NotFound("no policy with this name");
  return (*r)[1].is_nil() ? std::string() : (*r)[1].to_string();
}

Result<std::string> RedisPolicyStore::GetBody(std::string_view digest) {
  auto r = pool_->Command({"GET", BodyKey(digest)});
  if (!r.ok()) return r.status();
  if (r->is_nil()) return NotFound("no policy body with this digest");
  return r->to_string();
}

}  // namespace attestd
