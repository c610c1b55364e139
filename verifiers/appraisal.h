// Appraisal: what a verifier concluded about one piece of evidence.
//
// An appraisal that finds the evidence untrustworthy is not an error: it is
// an Appraisal with is_valid = false and the reasons in `failures`. Errors
// (Status) are kept for "could not appraise at all" (a dependency down).
#pragma once

#include <string>
#include <vector>

namespace attestd {

// One reason the evidence failed, with a Keylime-style event id
// ("quote_validation.nonce") and a JSON object giving context.
struct Failure {
  std::string type;
  std::string context_json = "{}";
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
};

// EAR status names: none, affirming, warning, contraindicated.
enum class EarStatus { kNone, kAffirming, kWarning, kContraindicated };
const char* EarStatusName(EarStatus s);
// The worst tier among the vector's claims (none when every claim is 0).
EarStatus WorstStatus(const TrustVector& v);

struct Appraisal {
  bool is_valid = false;
  std::string claims_json = "{}";  // a JSON object: what the verifier established
  std::vector<Failure> failures;
  TrustVector trust;
  std::string scheme = "TPM";      // EAR submod name
  std::string policy_id;           // ear.appraisal-policy-id, empty if none
};

class JsonWriter;
// Writes the vector as EAR's "ear.trustworthiness-vector" object.
void WriteTrustVector(JsonWriter& w, const TrustVector& t);

// The serialized form kept in the store and shown as the session's `result`:
// {"is_valid":…, "claims":{…}, "failures":[…], "ear.status":…, "ear.trustworthiness-vector":{…},
//  "ear": <compact JWS, when `ear` is not empty>}.
std::string SerializeAppraisal(const Appraisal& a, std::string_view ear = "");

}  // namespace attestd
