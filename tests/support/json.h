// Reading JSON in tests with simdjson (the same parser the server uses for
// input), so tests check documents structurally rather than by substring.
#pragma once

#include <simdjson.h>

#include <optional>
#include <string>

namespace attestd::testing {

// The value at a JSON pointer ("/result/is_valid") as text: strings without
// quotes, other values as minified JSON. nullopt if absent or unparsable.
std::optional<std::string> JsonAt(const std::string& json, const std::string& pointer);

// True if `json` parses as one JSON document.
bool IsValidJson(const std::string& json);

}  // namespace attestd::testing
