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

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd::tpm {

struct PcrPolicy {
  std::map<int, std::vector<std::string>> allowed;  // PCR → allowed raw digests
  uint32_t mask = 0;  // `mask`: further PCRs to quote (bit i = PCR i); 0 when absent
  bool empty() const { return allowed.empty(); }
};

// Lenient: what the appraisal needs (an unreadable `mask` is ignored).
Result<PcrPolicy> ParseTpmPolicy(std::string_view json);

// ParseTpmPolicy through a small process-wide cache keyed by the text (most
// attesters share a handful of policies): an appraisal parses no JSON for a
// policy seen before. Errors are not cached.
Result<std::shared_ptr<const PcrPolicy>> ParseTpmPolicyCached(std::string_view json);

// Strict, as enrolment checks a tenant's policy: ParseTpmPolicy's rules, and
// a JSON object whose values are SHA-1/256/384/512 digests of one bank only,
// with `mask` (if any) a hex string of at most 8 digits ("0x408000").
// kInvalidArgument naming what is wrong.
Status ValidateTpmPolicy(std::string_view json);

// The PCRs a quote must cover: those the policy names plus those of its
// mask, ascending; PCR 0 when there are none (a quote selects at least one).
std::vector<int> QuotedPcrs(const PcrPolicy& policy);

struct PolicyVerdict {
  std::vector<int> missing;  // policy PCRs the quote does not carry
  std::vector<int> invalid;  // policy PCRs whose value is not allowed
  bool ok() const { return missing.empty() && invalid.empty(); }
};

// Checks the quote's PCR values of one bank (PCR → raw digest) against the
// policy. PCRs the policy does not name are allowed.
PolicyVerdict EvaluatePolicy(const PcrPolicy& policy, const std::map<int, std::string>& values);

}  // namespace attestd::tpm
