// Appraisal: what a verifier concluded about one piece of evidence.
//
// A plain typed record: verifiers produce it, the session engine records it,
// stores keep it, api/ renders it. An appraisal that finds the evidence
// untrustworthy is not an error: it is an Appraisal with is_valid = false
// and the reasons in `failures`. Errors (Status) are kept for "could not
// appraise at all" (a dependency down).
#pragma once

#include <string>
#include <vector>

#include "common/value.h"

namespace attestd {

// One reason the evidence failed, with a Keylime-style event id
// ("quote_validation.nonce") and a map giving context (at least `reason`).
struct Failure {
  std::string type;
  Value context = Value::MakeMap();
  bool operator==(const Failure&) const = default;
};

// AR4SI trustworthiness claims (draft-ietf-rats-ar4si), as EAR carries them.
// 0 = no claim; 2 = affirming; 32..95 warning; 96..127 contraindicated.
struct TrustVector {
  int instance_identity = 0;
  int configuration = 0;
  int executables = 0;
  int file_system = 0;
  int hardware = 0;
  int runtime_opaque = 0;
  int storage_opaque = 0;
  int sourced_data = 0;
  bool operator==(const TrustVector&) const = default;
};

// EAR status names: none, affirming, warning, contraindicated.
enum class EarStatus { kNone, kAffirming, kWarning, kContraindicated };
const char* EarStatusName(EarStatus s);
// The worst tier among the vector's claims (none when every claim is 0).
EarStatus WorstStatus(const TrustVector& v);

struct Appraisal {
  bool is_valid = false;
  Value claims = Value::MakeMap();  // what the verifier established
  std::vector<Failure> failures;
  TrustVector trust;
  std::string scheme = "TPM";  // EAR submod name
  std::string policy_id;       // ear.appraisal-policy-id, empty if none
  bool operator==(const Appraisal&) const = default;
};

// Adds a failure {type, {"reason": reason}} and marks the appraisal invalid.
void AddFailure(Appraisal& a, std::string type, std::string_view reason);
bool HasFailure(const Appraisal& a, std::string_view type);

}  // namespace attestd
