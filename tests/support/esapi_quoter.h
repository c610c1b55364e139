// Fast quotes for simulated Keylime agents: one ESAPI connection to a swtpm
// kept open (no tpm2-tools process per quote), and the data PCR set as
// Keylime's agents do (reset PCR 16, extend it with a digest) right before
// each quote. Serialized: one quote at a time per quoter.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/swtpm.h"

typedef struct ESYS_CONTEXT ESYS_CONTEXT;
typedef struct TSS2_TCTI_OPAQUE_CONTEXT_BLOB TSS2_TCTI_CONTEXT;

namespace attestd::testing {

class EsapiQuoter {
 public:
  explicit EsapiQuoter(int swtpm_port);
  ~EsapiQuoter();
  bool ok() const { return ctx_ != nullptr; }

  // Resets PCR 16 and extends it with `data_digest` (sha256), then quotes
  // sha256 PCRs `pcrs` (16 added) over `nonce` with the "rsa" AK.
  // TpmQuote::quote is Keylime's quote string.
  std::optional<TpmQuote> Quote(const std::string& nonce, std::vector<int> pcrs,
                                const std::string& data_digest);

 private:
  std::mutex mu_;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* ctx_ = nullptr;
  uint32_t ak_ = 0;  // ESYS_TR of the "rsa" AK
};

}  // namespace attestd::testing
