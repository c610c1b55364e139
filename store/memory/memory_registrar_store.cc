#include "store/memory/memory_registrar_store.h"

#include "common/random.h"

namespace attestd {

Result<RegistrarAgent> MemoryRegistrarStore::Register(const RegistrarAgent& agent) {
  std::lock_guard<std::mutex> lock(mu_);
  RegistrarAgent stored = agent;
  stored.active = false;
  stored.regcount = 1;
  auto it = agents_.find(agent.agent_id);
  if (it != agents_.end()) {
    if (!it->second.SameIdentity(agent)) {
      return Status(StatusCode::kPermissionDenied, "agent is registered with another TPM identity");
    }
    stored.regcount = it->second.regcount + 1;
  }
  agents_.insert_or_assign(agent.agent_id, stored);
  return stored;
}

Result<RegistrarAgent> MemoryRegistrarStore::Get(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  return it->second;
}

Status MemoryRegistrarStore::Activate(std::string_view agent_id, std::string_view challenge_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  if (it->second.challenge_key.empty() ||
      !ConstantTimeEquals(it->second.challenge_key, challenge_key)) {
    return Conflict("the registration's challenge changed");
  }
  it->second.active = true;
  it->second.challenge_key.clear();
  return Status::Ok();
}

Status MemoryRegistrarStore::DeleteIfChallenge(std::string_view agent_id,
                                               std::string_view challenge_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  if (!ConstantTimeEquals(it->second.challenge_key, challenge_key)) {
    return Conflict("the registration's challenge changed");
  }
  agents_.erase(it);
  return Status::Ok();
}

Status MemoryRegistrarStore::Delete(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return NotFound("unknown agent");
  agents_.erase(it);
  return Status::Ok();
}

Result<std::vector<std::string>> MemoryRegistrarStore::ListActive() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, agent] : agents_) {
    if (agent.active) out.push_back(id);
  }
  return out;
}

}  // namespace attestd
