#include "api/session_json.h"

#include "api/appraisal_json.h"
#include "common/base64.h"
#include "common/json_writer.h"
#include "common/time_util.h"

namespace attestd::api {

std::string SessionToJson(const Session& s, const std::vector<std::string>& accept,
                          SessionFormat format) {
  bool veraison = format == SessionFormat::kVeraison;
  JsonWriter w;
  w.BeginObject();
  w.Key("nonce").String(veraison ? Base64UrlEncode(s.nonce) : Base64Encode(s.nonce));
  w.Key("expiry").String(FormatRfc3339Millis(s.expiry_ms));
  w.Key("accept").StringArray(accept);
  w.Key(veraison ? "status" : "state").String(SessionStateName(s.state));
  if (!s.evidence_type.empty()) {
    w.Key("evidence").BeginObject();
    w.Key("type").String(s.evidence_type);
    w.Key("value").String(Base64Encode(s.evidence));
    w.EndObject();
  }
  if (s.state == SessionState::kComplete && s.result) {
    w.Key("result");
    if (veraison) {
      w.String(s.result->ear);
    } else {
      WriteAppraisal(w, s.result->appraisal, s.result->ear);
    }
  }
  if (s.state == SessionState::kFailed) w.Key("error").String(s.error);
  w.EndObject();
  return w.Take();
}

}  // namespace attestd::api
