// PCR reference values in Keylime's `tpm_policy` format:
//   {"15": ["0000…"], "22": ["ffff…", "FFFF…"], "mask": "0x408000"}
// Keys are PCR numbers 0..23 (decimal); each value is a hex digest or a list
// of allowed hex digests (case-insensitive, an optional "0x" prefix);
// `mask` only says what to quote and is ignored here.
//
// Promises: ParseTpmPolicy accepts any text and never throws; the empty
// text, "null" and a policy with no PCR keys all mean "no reference values".
// Any other key, a non-hex value, or an empty list is kInvalidArgument.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd::tpm {

struct PcrPolicy {
  std::map<int, std::vector<std::string>> allowed;  // PCR → allowed raw digests
  bool empty() const { return allowed.empty(); }
};

Result<PcrPolicy> ParseTpmPolicy(std::string_view json);

struct PolicyVerdict {
  std::vector<int> missing;  // policy PCRs the quote does not carry
  std::vector<int> invalid;  // policy PCRs whose value is not allowed
  bool ok() const { return missing.empty() && invalid.empty(); }
};

// Checks the quote's PCR values of one bank (PCR → raw digest) against the
// policy. PCRs the policy does not name are allowed.
PolicyVerdict EvaluatePolicy(const PcrPolicy& policy, const std::map<int, std::string>& values);

}  // namespace attestd::tpm
