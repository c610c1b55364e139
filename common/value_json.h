// Value as JSON text and back: the one place a Value meets JSON.
//
// api/ uses WriteValue to put claims and failure contexts into its
// documents; stores use both to keep typed records in Redis. Parsing
// accepts any text and never throws (simdjson error codes): a document
// that is not JSON is kInvalidArgument. Numbers that are not integers
// are kept as their decimal text (claims never carry floats).
#pragma once

#include <string>
#include <string_view>

#include "common/json_writer.h"
#include "common/status.h"
#include "common/value.h"

namespace attestd {

// Writes `v` as one JSON value.
void WriteValue(JsonWriter& w, const Value& v);
std::string ValueToJson(const Value& v);

Result<Value> ParseValueJson(std::string_view json);

}  // namespace attestd
