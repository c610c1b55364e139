// libFuzzer target: the framing of an enrolled agent's quote and logs
// (kAgentEvidenceType). Any input must parse or be refused; what parses
// must encode and parse again to the same evidence.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "service/keylime/agent_evidence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto ev = attestd::ParseAgentEvidence(in);
  if (!ev.ok()) return 0;
  auto again = attestd::ParseAgentEvidence(attestd::EncodeAgentEvidence(*ev));
  if (!again.ok()) __builtin_trap();
  const auto& a = ev->quote;
  const auto& b = again->quote;
  if (a.agent_id != b.agent_id || a.attest != b.attest || a.signature != b.signature ||
      a.pcrblob != b.pcrblob || a.hash_alg != b.hash_alg) {
    __builtin_trap();
  }
  if (ev->logs.ima_list != again->logs.ima_list ||
      ev->logs.ima_first_entry != again->logs.ima_first_entry ||
      ev->logs.boot_log != again->logs.boot_log) {
    __builtin_trap();
  }
  return 0;
}
