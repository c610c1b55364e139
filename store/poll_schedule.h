// PollSchedule: when each pull-mode agent is next due for a quote, and which
// attestd instance holds the lease on it (Keylime's verifier polls its pull
// agents; with a shared store several attestd instances share the agents).
//
// Promises, for every implementation:
// - Thread-safe; every operation is atomic (Redis: one Lua script on keys
//   that share the hash tag `{pull}`, so it runs on one cluster slot).
// - Times are the store's own clock (Redis: TIME inside the script), so
//   instances never compare clocks with each other. Durations are in ms.
// - A lease names one instance and an expiry. Claim hands an agent to an
//   instance only when it is due and its lease is free, expired or already
//   that instance's: two live instances never poll one agent at once.
// - A claimed agent stays in the schedule, due again when the claim's lease
//   runs out, so an instance that dies mid-poll loses its agents to the next
//   Claim of another one after `lease_ms`. A live instance keeps a short
//   claim for as long as its poll runs by renewing it (Renew).
// - kUnavailable when the store cannot be reached.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd {

class PollSchedule {
 public:
  virtual ~PollSchedule() = default;

  // Schedules the agent `due_in_ms` from now unless it is scheduled already.
  virtual Status Add(std::string_view agent_id, int64_t due_in_ms) = 0;

  // Schedules the agent `due_in_ms` from now, scheduled or not.
  virtual Status Reschedule(std::string_view agent_id, int64_t due_in_ms) = 0;

  // Forgets the agent and its lease (idempotent).
  virtual Status Remove(std::string_view agent_id) = 0;

  // Up to `max` due agents whose lease is free, expired or `instance`'s:
  // each gets a lease for `instance` lasting `lease_ms` and is due again
  // when it ends. Oldest due first.
  virtual Result<std::vector<std::string>> Claim(std::string_view instance, int64_t lease_ms,
                                                 size_t max) = 0;

  // Extends the leases `instance` holds on `agent_ids` (expired or not, as
  // long as no other instance claimed the agent since) to at least
  // `lease_ms` from now, and makes each due no earlier than that (as Claim
  // does: once a lease is no longer renewed, the agent is due and claimable
  // by others). Never shortens a lease or brings a due time forward, so a
  // Release that came first stands. Returns the ids it did not extend:
  // held by another instance, not held, or removed. One atomic operation.
  virtual Result<std::vector<std::string>> Renew(std::string_view instance,
                                                 const std::vector<std::string>& agent_ids,
                                                 int64_t lease_ms) = 0;

  // Ends `instance`'s poll of the agent: due again `next_in_ms` from now,
  // the lease kept `hold_ms` from now (so the same instance polls it next
  // and reports itself as its verifier meanwhile). False, changing nothing,
  // when `instance` no longer holds the lease or the agent was removed
  // meanwhile (its lease is then dropped).
  virtual Result<bool> Release(std::string_view agent_id, std::string_view instance,
                               int64_t next_in_ms, int64_t hold_ms) = 0;

  // The instance whose lease on the agent has not expired; nullopt if none.
  virtual Result<std::optional<std::string>> Holder(std::string_view agent_id) = 0;

  // How many agents are scheduled.
  virtual Result<int64_t> Size() = 0;
};

}  // namespace attestd
