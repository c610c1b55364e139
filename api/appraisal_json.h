// The appraisal as the API shows it: the session's `result` object. (A
// failures list alone is common/failure_list.h's WriteFailureList.)
#pragma once

#include <string_view>

#include "common/appraisal.h"
#include "common/json_writer.h"

namespace attestd::api {

// {"is_valid":…, "claims":{…}, "failures":[…], "ear.status":…,
//  "ear.trustworthiness-vector":{…}[, "ear.appraisal-policy-id"][, "ear": <JWS>]}
void WriteAppraisal(JsonWriter& w, const Appraisal& a, std::string_view ear = "");

}  // namespace attestd::api
