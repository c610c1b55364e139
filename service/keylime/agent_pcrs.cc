#include "service/keylime/agent_pcrs.h"

#include <set>

#include "verifiers/tpm/pcr_policy.h"
#include "verifiers/uefi/mb_policy.h"

namespace attestd {

Result<std::vector<int>> AgentQuotePcrs(const VerifierAgent& agent) {
  auto policy = tpm::ParseTpmPolicy(agent.tpm_policy);
  if (!policy.ok()) return policy.status();
  std::set<int> pcrs;
  for (int p : tpm::QuotedPcrs(*policy)) pcrs.insert(p);
  if (!agent.runtime_policy.empty()) pcrs.insert(10);
  if (!agent.mb_policy.empty()) {
    for (uint32_t p : uefi::kExamplePolicyPcrs) pcrs.insert(static_cast<int>(p));
  }
  return std::vector<int>(pcrs.begin(), pcrs.end());
}

Result<uint32_t> AgentQuoteMask(const VerifierAgent& agent) {
  auto pcrs = AgentQuotePcrs(agent);
  if (!pcrs.ok()) return pcrs.status();
  uint32_t bits = 0;
  for (int p : *pcrs) bits |= 1u << p;
  return bits;
}

}  // namespace attestd
