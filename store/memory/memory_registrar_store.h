// RegistrarStore in process memory (one mutex; `--store memory`). Never
// answers kUnavailable.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "store/registrar_store.h"

namespace attestd {

class MemoryRegistrarStore final : public RegistrarStore {
 public:
  Result<RegistrarAgent> Register(const RegistrarAgent& agent) override;
  Result<RegistrarAgent> Get(std::string_view agent_id) override;
  Status Activate(std::string_view agent_id, std::string_view challenge_key) override;
  Status DeleteIfChallenge(std::string_view agent_id, std::string_view challenge_key) override;
  Status Delete(std::string_view agent_id) override;
  Result<std::vector<std::string>> ListActive() override;

 private:
  std::mutex mu_;
  std::map<std::string, RegistrarAgent, std::less<>> agents_;
};

}  // namespace attestd
