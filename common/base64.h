// Base64 in the two alphabets the APIs use (RFC 4648 §4 standard and §5
// url-safe), built on OpenSSL's block codec.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace attestd {

// Standard alphabet, with '=' padding.
std::string Base64Encode(std::string_view bytes);
// Url-safe alphabet, no padding (what JOSE and Veraison clients use).
std::string Base64UrlEncode(std::string_view bytes);

// Decodes standard or url-safe base64, padded or not (the two alphabets may
// not be mixed). Returns nullopt for any other character, a bad length or
// misplaced padding. No whitespace is accepted.
std::optional<std::string> Base64DecodeAny(std::string_view text);

// Decodes standard base64 with padding only (strict).
std::optional<std::string> Base64DecodeStd(std::string_view text);

std::string HexEncode(std::string_view bytes);
// Case-insensitive; nullopt on odd length or a non-hex character.
std::optional<std::string> HexDecode(std::string_view text);

}  // namespace attestd
