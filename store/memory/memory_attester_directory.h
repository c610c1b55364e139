// AttesterDirectory in process memory (one mutex; for tests and single-node
// runs with `--store memory`). Never answers kUnavailable.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "store/attester_directory.h"

namespace attestd {

class MemoryAttesterDirectory final : public AttesterDirectory {
 public:
  Result<Attester> Get(std::string_view agent_id) override;
  Status Put(std::string_view agent_id, const Attester& attester) override;
  Status Remove(std::string_view agent_id) override;
  Result<ClockAdvance> AdvanceClock(std::string_view agent_id, const ClockState& observed) override;

 private:
  std::mutex mu_;
  std::map<std::string, Attester, std::less<>> attesters_;
};

}  // namespace attestd
