#include "store/session.h"

#include <simdjson.h>

#include "common/failure_list.h"
#include "common/json_writer.h"
#include "common/value_json.h"

namespace attestd {

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kWaiting:
      return "waiting";
    case SessionState::kProcessing:
      return "processing";
    case SessionState::kComplete:
      return "complete";
    case SessionState::kFailed:
      return "failed";
  }
  return "unknown";
}

std::optional<SessionState> ParseSessionState(std::string_view name) {
  for (SessionState s : {SessionState::kWaiting, SessionState::kProcessing, SessionState::kComplete,
                         SessionState::kFailed}) {
    if (name == SessionStateName(s)) return s;
  }
  return std::nullopt;
}

namespace {

int* TrustClaims(TrustVector& t, size_t i) {
  int* claims[] = {&t.instance_identity, &t.configuration,  &t.executables,    &t.file_system,
                   &t.hardware,          &t.runtime_opaque, &t.storage_opaque, &t.sourced_data};
  return claims[i];
}
constexpr size_t kTrustClaims = 8;

}  // namespace

// {"valid":b,"claims":{…},"failures":[{"type","context"}],"trust":[8 ints],
//  "scheme":s,"policy_id":s,"ear":s}
std::string EncodeSessionResult(const SessionResult& r) {
  const Appraisal& a = r.appraisal;
  JsonWriter w(512);
  w.BeginObject();
  w.Key("valid").Bool(a.is_valid);
  w.Key("claims");
  WriteValue(w, a.claims);
  w.Key("failures");
  WriteFailureList(w, a.failures);
  w.Key("trust").BeginArray();
  TrustVector t = a.trust;
  for (size_t i = 0; i < kTrustClaims; ++i) w.Int(*TrustClaims(t, i));
  w.EndArray();
  w.Key("scheme").String(a.scheme);
  w.Key("policy_id").String(a.policy_id);
  w.Key("ear").String(r.ear);
  w.EndObject();
  return w.Take();
}

Result<SessionResult> DecodeSessionResult(std::string_view text) {
  auto parsed = ParseValueJson(text);
  if (!parsed.ok() || !parsed->is_map()) return Internal("stored result is not a record");
  const Value& v = *parsed;
  SessionResult r;
  Appraisal& a = r.appraisal;
  const Value* valid = v.Find("valid");
  const Value* trust = v.Find("trust");
  if (!valid || !trust || trust->list().size() != kTrustClaims) {
    return Internal("stored result lacks its verdict");
  }
  a.is_valid = valid->as_bool();
  if (const Value* claims = v.Find("claims")) a.claims = *claims;
  if (const Value* failures = v.Find("failures")) a.failures = FailureListFromValue(*failures);
  for (size_t i = 0; i < kTrustClaims; ++i) {
    *TrustClaims(a.trust, i) = static_cast<int>(trust->list()[i].as_int());
  }
  a.scheme = std::string(v.StringAt("scheme"));
  a.policy_id = std::string(v.StringAt("policy_id"));
  r.ear = std::string(v.StringAt("ear"));
  return r;
}

}  // namespace attestd
