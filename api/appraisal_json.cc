#include "api/appraisal_json.h"

#include "common/failure_list.h"
#include "common/value_json.h"
#include "verifiers/ear/result_signer.h"

namespace attestd::api {

void WriteAppraisal(JsonWriter& w, const Appraisal& a, std::string_view ear) {
  w.BeginObject();
  w.Key("is_valid").Bool(a.is_valid);
  w.Key("claims");
  WriteValue(w, a.claims);
  w.Key("failures");
  WriteFailureList(w, a.failures);
  w.Key("ear.status").String(EarStatusName(WorstStatus(a.trust)));
  w.Key("ear.trustworthiness-vector");
  WriteTrustVector(w, a.trust);
  if (!a.policy_id.empty()) w.Key("ear.appraisal-policy-id").String(a.policy_id);
  if (!ear.empty()) w.Key("ear").String(ear);
  w.EndObject();
}

}  // namespace attestd::api
