// In-process PollSchedule for the memory store: the same scheduler semantics
// (due times, leases) for the instances of one process.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "store/poll_schedule.h"

namespace attestd {

class MemoryPollSchedule : public PollSchedule {
 public:
  Status Add(std::string_view agent_id, int64_t due_in_ms) override;
  Status Reschedule(std::string_view agent_id, int64_t due_in_ms) override;
  Status Remove(std::string_view agent_id) override;
  Result<std::vector<std::string>> Claim(std::string_view instance, int64_t lease_ms,
                                         size_t max) override;
  Result<std::vector<std::string>> Renew(std::string_view instance,
                                         const std::vector<std::string>& agent_ids,
                                         int64_t lease_ms) override;
  Result<bool> Release(std::string_view agent_id, std::string_view instance, int64_t next_in_ms,
                       int64_t hold_ms) override;
  Result<std::optional<std::string>> Holder(std::string_view agent_id) override;
  Result<int64_t> Size() override;

 private:
  struct Lease {
    std::string instance;
    int64_t expires_ms = 0;
  };
  // Sets the due time (caller holds mu_).
  void SetDue(const std::string& id, int64_t due_ms);

  std::mutex mu_;
  std::map<std::string, int64_t, std::less<>> due_;   // agent → due (epoch ms)
  std::set<std::pair<int64_t, std::string>> by_due_;  // (due, agent)
  std::map<std::string, Lease, std::less<>> leases_;
};

}  // namespace attestd
