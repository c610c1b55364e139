#include "api/session_json.h"

#include <simdjson.h>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/time_util.h"

namespace attestd::api {

namespace {
// The stored result is SerializeAppraisal's JSON; its "ear" member is the JWS.
std::string EarOf(const std::string& result_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view ear;
  if (parser.parse(result_json).get(doc) || doc["ear"].get_string().get(ear)) return "";
  return std::string(ear);
}
}  // namespace

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
  if (s.state == SessionState::kComplete && !s.result.empty()) {
    if (veraison) {
      w.Key("result").String(EarOf(s.result));
    } else {
      w.Key("result").Raw(s.result);
    }
  }
  if (s.state == SessionState::kFailed) w.Key("error").String(s.error);
  w.EndObject();
  return w.Take();
}

}  // namespace attestd::api
