// Length-prefixed byte fields: a 4-byte big-endian length, then the bytes.
// The framing of attestd's internal evidence types (tpm::kQuotePartsType,
// kAgentEvidenceType), which carry binary fields without base64 or JSON.
#pragma once

#include <string>
#include <string_view>

namespace attestd {

// Appends `field` with its length (fields over 4 GiB are not supported).
void PutLengthPrefixed(std::string& out, std::string_view field);

// Takes one field from the front of `in` into `*field` (a view into `in`'s
// bytes). False, and `in` unusable, when the length runs past the end.
[[nodiscard]] bool TakeLengthPrefixed(std::string_view& in, std::string_view* field);

}  // namespace attestd
