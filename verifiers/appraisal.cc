#include "verifiers/appraisal.h"

#include "common/json_writer.h"

namespace attestd {

const char* EarStatusName(EarStatus s) {
  switch (s) {
    case EarStatus::kNone: return "none";
    case EarStatus::kAffirming: return "affirming";
    case EarStatus::kWarning: return "warning";
    case EarStatus::kContraindicated: return "contraindicated";
  }
  return "none";
}

namespace {
EarStatus Tier(int claim) {
  if (claim >= 96) return EarStatus::kContraindicated;
  if (claim >= 32) return EarStatus::kWarning;
  if (claim >= 2) return EarStatus::kAffirming;
  return EarStatus::kNone;
}
}  // namespace

EarStatus WorstStatus(const TrustVector& v) {
  EarStatus worst = EarStatus::kNone;
  for (int c : {v.instance_identity, v.configuration, v.executables, v.file_system, v.hardware,
                v.runtime_opaque, v.storage_opaque, v.sourced_data}) {
    EarStatus t = Tier(c);
    if (static_cast<int>(t) > static_cast<int>(worst)) worst = t;
  }
  return worst;
}

void WriteTrustVector(JsonWriter& w, const TrustVector& t) {
  w.BeginObject();
  w.Key("instance-identity").Int(t.instance_identity);
  w.Key("configuration").Int(t.configuration);
  w.Key("executables").Int(t.executables);
  w.Key("file-system").Int(t.file_system);
  w.Key("hardware").Int(t.hardware);
  w.Key("runtime-opaque").Int(t.runtime_opaque);
  w.Key("storage-opaque").Int(t.storage_opaque);
  w.Key("sourced-data").Int(t.sourced_data);
  w.EndObject();
}

std::string SerializeAppraisal(const Appraisal& a, std::string_view ear) {
  JsonWriter w;
  w.BeginObject();
  w.Key("is_valid").Bool(a.is_valid);
  w.Key("claims").Raw(a.claims_json.empty() ? "{}" : a.claims_json);
  w.Key("failures").BeginArray();
  for (const Failure& f : a.failures) {
    w.BeginObject();
    w.Key("type").String(f.type);
    w.Key("context").Raw(f.context_json.empty() ? "{}" : f.context_json);
    w.EndObject();
  }
  w.EndArray();
  w.Key("ear.status").String(EarStatusName(WorstStatus(a.trust)));
  w.Key("ear.trustworthiness-vector");
  WriteTrustVector(w, a.trust);
  if (!a.policy_id.empty()) w.Key("ear.appraisal-policy-id").String(a.policy_id);
  if (!ear.empty()) w.Key("ear").String(ear);
  w.EndObject();
  return w.Take();
}

}  // namespace attestd
