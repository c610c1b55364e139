// The PCRs an enrolled Keylime agent is asked to quote, whether the
// verifier pulls its quotes or the agent pushes them.
//
// Promises: tpm::QuotedPcrs of the agent's tpm_policy, plus PCR 10 when it
// has a runtime (IMA) policy and the PCRs Keylime's example measured-boot
// policy reads when it has a measured-boot policy (as Keylime adds both to
// the mask); sorted, no duplicates. The tpm_policy's own parse error when
// it does not parse.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "store/agent_store.h"

namespace attestd {

Result<std::vector<int>> AgentQuotePcrs(const VerifierAgent& agent);

// The same PCRs as a bit mask (bit n: PCR n), Keylime's `mask` parameter.
Result<uint32_t> AgentQuoteMask(const VerifierAgent& agent);

}  // namespace attestd
