// Header parsing for content negotiation and RFC 7240 preferences.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attestd::api {

// True if an `Accept` header value admits at least one of `offered`
// (normalized media types): a range with q > 0 that is "*/*", "type/*" or an
// exact (case-insensitive) match. An absent or empty header admits anything.
// A malformed header admits nothing.
bool AcceptAdmits(std::string_view accept, const std::vector<std::string>& offered);

struct Preferences {
  bool respond_async = false;
  std::optional<int64_t> wait_seconds;
};

// Parses every `Prefer` preference we honour; unknown ones are ignored, as
// RFC 7240 asks.
Preferences ParsePrefer(std::string_view prefer);

}  // namespace attestd::api
