// AgentStore and PolicyStore in process memory (one mutex each; for tests and
// single-node runs with `--store memory`). Never answer kUnavailable.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "store/agent_store.h"
#include "store/policy_store.h"

namespace attestd {

class MemoryAgentStore final : public AgentStore {
 public:
  Status Create(const VerifierAgent& agent) override;
  Result<VerifierAgent> Get(std::string_view agent_id) override;
  Result<VerifierAgent> Update(std::string_view agent_id,
                               const std::function<Status(VerifierAgent&)>& mutate) override;
  Status Delete(std::string_view agent_id) override;
  Result<std::vector<std::string>> List() override;

 private:
  std::mutex mu_;
  std::map<std::string, VerifierAgent, std::less<>> agents_;
};

class MemoryPolicyStore final : public PolicyStore {
 public:
  Status Create(PolicyKind kind, const NamedPolicy& policy) override;
  Status Replace(PolicyKind kind, const NamedPolicy& policy) override;
  Result<NamedPolicy> Get(PolicyKind kind, std::string_view name) override;
  Status Delete(PolicyKind kind, std::string_view name) override;
  Result<std::vector<std::string>> List(PolicyKind kind) override;
  Status PutBody(std::string_view digest, std::string_view body) override;
  Result<std::string> GetBody(std::string_view digest) override;
  Result<std::string> GetDigest(PolicyKind kind, std::string_view name) override;

 private:
  std::map<std::string, NamedPolicy, std::less<>>& Of(PolicyKind kind) {
    return kind == PolicyKind::kRuntime ? runtime_ : mb_;
  }
  std::mutex mu_;
  std::map<std::string, NamedPolicy, std::less<>> runtime_, mb_;
  std::map<std::string, std::string, std::less<>> bodies_;
};

}  // namespace attestd
