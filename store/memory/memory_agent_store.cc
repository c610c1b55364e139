#include "store/memory/memory_agent_store.h"

namespace attestd {

Status MemoryAgentStore::Create(const VerifierAgent& agent) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!agents_.emplace(agent.agent_id, agent).second) return Conflict("agent exists");
  return Status::Ok();
}

Result<VerifierAgent> MemoryAgentStore::Get(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  return it->second;
}

Result<VerifierAgent> MemoryAgentStore::Update(
    std::string_view agent_id, const std::function<Status(VerifierAgent&)>& mutate) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  VerifierAgent copy = it->second;
  if (Status st = mutate(copy); !st.ok()) return st;
  copy.agent_id = it->first;
  it->second = copy;
  return copy;
}

Status MemoryAgentStore::Delete(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  agents_.erase(it);
  return Status::Ok();
}

Result<std::vector<std::string>> MemoryAgentStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, agent] : agents_) out.push_back(id);
  return out;
}

Status MemoryPolicyStore::Create(PolicyKind kind, const NamedPolicy& policy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Of(kind).emplace(policy.name, policy).second)
    return Conflict("a policy with this name exists");
  return Status::Ok();
}

Status MemoryPolicyStore::Replace(PolicyKind kind, const NamedPolicy& policy) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = Of(kind).find(policy.name);
  if (it == Of(kind).end()) return NotFound("no policy with this name");
  it->second = policy;
  return Status::Ok();
}

Result<NamedPolicy> MemoryPolicyStore::Get(PolicyKind kind, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = Of(kind).find(name);
  if (it == Of(kind).end()) return NotFound("no policy with this name");
  return it->second;
}

Status MemoryPolicyStore::Delete(PolicyKind kind, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = Of(kind).find(name);
  if (it == Of(kind).end()) return NotFound("no policy with this name");
  Of(kind).erase(it);
  return Status::Ok();
}

Result<std::vector<std::string>> MemoryPolicyStore::List(PolicyKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, p] : Of(kind)) out.push_back(name);
  return out;
}

Status MemoryPolicyStore::PutBody(std::string_view digest, std::string_view body) {
  std::lock_guard<std::mutex> lock(mu_);
  // Looked up first: a 20 MiB body is not copied to be thrown away.
  if (bodies_.find(digest) == bodies_.end()) bodies_.emplace(std::string(digest), body);
  return Status::Ok();
}

Result<std::string> MemoryPolicyStore::GetDigest(PolicyKind kind, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = Of(kind).find(name);
  if (it == Of(kind).end()) return NotFound("no policy with this name");
  return it->second.digest;
}

Result<std::string> MemoryPolicyStore::GetBody(std::string_view digest) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bodies_.find(digest);
  if (it == bodies_.end()) return NotFound("no policy body with this digest");
  return it->second;
}

}  // namespace attestd
