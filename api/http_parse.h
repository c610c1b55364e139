// How a listener reads one HTTP/1.1 request with Beast: the parser's
// limits, the checks on a parsed header, what each parse error is
// answered, and the HttpRequest routes see. HttpServer reads with these;
// the fuzz target (tests/fuzz/http_request_fuzz.cc) feeds bytes through
// ParseRequestBytes, which uses the same functions, so both meet the
// same code. Internal to api/: it includes Beast.
#pragma once

#ifndef BOOST_BEAST_USE_STD_STRING_VIEW
#define BOOST_BEAST_USE_STD_STRING_VIEW
#endif

#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/http_types.h"

namespace attestd::api::http_parse {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// No route needs more; anything longer is abuse or a client bug.
inline constexpr size_t kMaxTargetBytes = 8 * 1024;
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;

// An answer the listener makes itself (in the router's error format).
struct Refusal {
  int status;
  std::string detail;  // never the library's text
};

// Limits a fresh parser: the header block (Beast keeps field lengths in 16
// bits and throws beyond; the limit keeps every field below that, so the
// parser never throws) and the body, chunked bodies included: Beast checks
// each chunk's declared size against what is left of `max_body` before
// storing anything, so a huge chunk is refused, not allocated.
void Configure(RequestParser& parser, size_t max_body);

// Checks of a complete header: target over 8 KiB → 414, fields over 64 KiB
// → 431, a method Beast does not know → 400.
std::optional<Refusal> CheckHeader(const RequestParser& parser);

// The answer to a read that failed with `ec` (a parse error, a limit), or
// nullopt when the connection just ended or broke (nothing to answer).
std::optional<Refusal> RefusalFor(const boost::system::error_code& ec, const RequestParser& parser,
                                  size_t max_body);

// The request as routes see it (method, path, decoded query, lower-case
// header names, body moved out of the parser), or 400 for a malformed
// query string.
std::variant<HttpRequest, Refusal> ToHttpRequest(RequestParser& parser);

// One request from `bytes` as a listener reads it, the bytes ending where
// the client stops sending: the request, a refusal, or nullopt when the
// bytes end before a request is complete (the listener would wait, then
// close or answer 408).
std::optional<std::variant<HttpRequest, Refusal>> ParseRequestBytes(std::string_view bytes,
                                                                    size_t max_body);

}  // namespace attestd::api::http_parse
