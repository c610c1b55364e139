#include "store/memory/memory_poll_schedule.h"

#include <algorithm>

#include "common/time_util.h"

namespace attestd {

void MemoryPollSchedule::SetDue(const std::string& id, int64_t due_ms) {
  auto it = due_.find(id);
  if (it != due_.end()) by_due_.erase({it->second, id});
  due_[id] = due_ms;
  by_due_.insert({due_ms, id});
}

Status MemoryPollSchedule::Add(std::string_view agent_id, int64_t due_in_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (due_.find(agent_id) == due_.end()) SetDue(std::string(agent_id), NowMillis() + due_in_ms);
  return Status::Ok();
}

Status MemoryPollSchedule::Reschedule(std::string_view agent_id, int64_t due_in_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  SetDue(std::string(agent_id), NowMillis() + due_in_ms);
  return Status::Ok();
}

Status MemoryPollSchedule::Remove(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = due_.find(agent_id);
  if (it != due_.end()) {
    by_due_.erase({it->second, it->first});
    due_.erase(it);
  }
  auto lease = leases_.find(agent_id);
  if (lease != leases_.end()) leases_.erase(lease);
  return Status::Ok();
}

Result<std::vector<std::string>> MemoryPollSchedule::Claim(std::string_view instance,
                                                           int64_t lease_ms, size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = NowMillis();
  std::vector<std::string> out;
  std::vector<std::string> due;
  for (auto it = by_due_.begin(); it != by_due_.end() && it->first <= now; ++it) {
    due.push_back(it->second);
  }
  for (const std::string& id : due) {
    if (out.size() >= max) break;
    auto lease = leases_.find(id);
    if (lease != leases_.end() && lease->second.instance != instance &&
        lease->second.expires_ms > now) {
      continue;  // another live instance's: it claims the agent itself
    }
    leases_[id] = Lease{std::string(instance), now + lease_ms};
    SetDue(id, now + lease_ms);
    out.push_back(id);
  }
  return out;
}

Result<std::vector<std::string>> MemoryPollSchedule::Renew(
    std::string_view instance, const std::vector<std::string>& agent_ids, int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t until = NowMillis() + lease_ms;
  std::vector<std::string> lost;
  for (const std::string& id : agent_ids) {
    auto lease = leases_.find(id);
    auto due = due_.find(id);
    if (lease == leases_.end() || lease->second.instance != instance || due == due_.end()) {
      lost.push_back(id);
      continue;
    }
    lease->second.expires_ms = std::max(lease->second.expires_ms, until);
    if (due->second < until) SetDue(id, until);
  }
  return lost;
}

Result<bool> MemoryPollSchedule::Release(std::string_view agent_id, std::string_view instance,
                                         int64_t next_in_ms, int64_t hold_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto lease = leases_.find(agent_id);
  if (lease == leases_.end() || lease->second.instance != instance) return false;
  if (due_.find(agent_id) == due_.end()) {
    leases_.erase(lease);
    return false;
  }
  int64_t now = NowMillis();
  lease->second.expires_ms = now + hold_ms;
  SetDue(std::string(agent_id), now + next_in_ms);
  return true;
}

Result<std::optional<std::string>> MemoryPollSchedule::Holder(std::string_view agent_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto lease = leases_.find(agent_id);
  if (lease == leases_.end() || lease->second.expires_ms <= NowMillis()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(lease->second.instance);
}

Result<int64_t> MemoryPollSchedule::Size() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(due_.size());
}

}  // namespace attestd
