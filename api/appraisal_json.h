// The appraisal as the API shows it: the session's `result` object and the
// `failures` list of Keylime's verify routes. The one writer of both.
#pragma once

#include <string_view>

#include "common/appraisal.h"
#include "common/json_writer.h"

namespace attestd::api {

// {"is_valid":…, "claims":{…}, "failures":[…], "ear.status":…,
//  "ear.trustworthiness-vector":{…}[, "ear.appraisal-policy-id"][, "ear": <JWS>]}
void WriteAppraisal(JsonWriter& w, const Appraisal& a, std::string_view ear = "");

// [{"type":…, "context":{…}}, …]
void WriteFailures(JsonWriter& w, const std::vector<Failure>& failures);

}  // namespace attestd::api
