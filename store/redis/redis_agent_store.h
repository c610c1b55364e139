// AgentStore and PolicyStore on Redis.
//
// An agent is one hash at `attestd:agent:{<agent_id>}` with the encoded
// record (`doc`, EncodeAgent) and a revision (`rev`); Update is a
// compare-and-set on `rev` in a Lua script, retried after a random,
// growing pause when another writer came in between (kUnavailable after
// 32 collisions in a row). A policy is one hash at
// `attestd:policy:{<kind>:<name>}` (`name`, `tpm_policy`, `body`). Listing
// scans the key space (SCAN MATCH): it serves the admin listings only.
#pragma once

#include <memory>

#include "store/agent_store.h"
#include "store/policy_store.h"
#include "store/redis/redis_pool.h"

namespace attestd {

class RedisAgentStore final : public AgentStore {
 public:
  explicit RedisAgentStore(std::shared_ptr<RedisPool> pool) : pool_(std::move(pool)) {}

  Status Create(const VerifierAgent& agent) override;
  Result<VerifierAgent> Get(std::string_view agent_id) override;
  Result<VerifierAgent> Update(std::string_view agent_id,
                               const std::function<Status(VerifierAgent&)>& mutate) override;
  Status Delete(std::string_view agent_id) override;
  Result<std::vector<std::string>> List() override;

  static std::string Key(std::string_view agent_id);

 private:
  // The record and its revision.
  Result<std::pair<VerifierAgent, std::string>> Read(std::string_view agent_id);
  std::shared_ptr<RedisPool> pool_;
};

class RedisPolicyStore final : public PolicyStore {
 public:
  explicit RedisPolicyStore(std::shared_ptr<RedisPool> pool) : pool_(std::move(pool)) {}

  Status Create(PolicyKind kind, const NamedPolicy& policy) override;
  Status Replace(PolicyKind kind, const NamedPolicy& policy) override;
  Result<NamedPolicy> Get(PolicyKind kind, std::string_view name) override;
  Status Delete(PolicyKind kind, std::string_view name) override;
  Result<std::vector<std::string>> List(PolicyKind kind) override;
  Status PutBody(std::string_view digest, std::string_view body) override;
  Result<std::string> GetBody(std::string_view digest) override;
  Result<std::string> GetDigest(PolicyKind kind, std::string_view name) override;

  static std::string Key(PolicyKind kind, std::string_view name);
  static std::string BodyKey(std::string_view digest);

 private:
  Status Write(PolicyKind kind, const NamedPolicy& policy, std::string_view mode);
  std::shared_ptr<RedisPool> pool_;
};

}  // namespace attestd
