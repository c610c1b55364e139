#include "store/memory/memory_attester_directory.h"

namespace attestd {

Result<Attester> MemoryAttesterDirectory::Get(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attesters_.find(agent_id);
  if (it == attesters_.end()) return NotFound("unknown attester");
  return it->second;
}

Status MemoryAttesterDirectory::Put(std::string_view agent_id, const Attester& attester) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attesters_.find(agent_id);
  std::optional<ClockState> keep;
  if (it != attesters_.end() && it->second.ak_tpm == attester.ak_tpm) keep = it->second.clock;
  Attester stored = attester;
  stored.clock = keep;
  attesters_.insert_or_assign(std::string(agent_id), std::move(stored));
  return Status::Ok();
}

Status MemoryAttesterDirectory::Remove(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attesters_.find(agent_id);
  if (it != attesters_.end()) attesters_.erase(it);
  return Status::Ok();
}

Result<ClockAdvance> MemoryAttesterDirectory::AdvanceClock(std::string_view agent_id,
                                                           const ClockState& observed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = attesters_.find(agent_id);
  if (it == attesters_.end()) return NotFound("unknown attester");
  ClockAdvance out;
  out.previous = it->second.clock;
  if (!out.previous || ClockAdvances(*out.previous, observed)) {
    it->second.clock = observed;
    out.advanced = true;
  }
  return out;
}

}  // namespace attestd
