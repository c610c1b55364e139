// libFuzzer target: the EnactTrust binary evidence
// (node_id ‖ u16 size ‖ TPMS_ATTEST ‖ TPMT_SIGNATURE), framing then the
// whole appraisal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/tpm_structures.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto ev = attestd::tpm::ParseEnactTrustEvidence(in);
  if (ev.ok()) {
    if (ev->attest.size() + ev->signature.size() + 18 != in.size()) __builtin_trap();
    (void)attestd::tpm::ParseAttest(ev->attest);
    (void)attestd::tpm::ParseSignature(ev->signature);
  }
  attestd::fuzz::AppraiseAndCheck(in, attestd::tpm::kEnactTrustType);
  return 0;
}
