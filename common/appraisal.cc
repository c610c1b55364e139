#include "common/appraisal.h"

#include <algorithm>

namespace attestd {

const char* EarStatusName(EarStatus s) {
  switch (s) {
    case EarStatus::kNone:
      return "none";
    case EarStatus::kAffirming:
      return "affirming";
    case EarStatus::kWarning:
      return "warning";
    case EarStatus::kContraindicated:
      return "contraindicated";
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

void AddFailure(Appraisal& a, std::string type, std::string_view reason) {
  a.failures.push_back(Failure{std::move(type), Value::MakeMap({{"reason", Value(reason)}})});
  a.is_valid = false;
}

bool HasFailure(const Appraisal& a, std::string_view type) {
  return std::any_of(a.failures.begin(), a.failures.end(),
                     [&](const Failure& f) { return f.type == type; });
}

}  // namespace attestd
