// RFC 9457 problem details: every error body the challenge-response listener
// sends is one of these.
#pragma once

#include <string>
#include <string_view>

#include "api/http_types.h"
#include "common/status.h"

namespace attestd::api {

inline constexpr char kProblemMediaType[] = "application/problem+json";

// {"type":"about:blank","title":<reason phrase>,"status":N,"detail":<detail>}
HttpResponse Problem(int status, std::string_view detail);

// The HTTP status for a domain error code.
int HttpStatusFor(StatusCode code);

// What a client is told of a domain error, whatever the listener's format.
// Messages of 4xx codes are written for clients and kept. Server errors
// (kUnavailable, kInternal) may carry what no client may see (a store
// address, Redis's own text, a script hash, a path): their detail is a fixed
// sentence, and the message goes to the log instead (warn level, so repeats
// are summarised during an outage). kUnavailable is 503 with a Retry-After.
struct PublicError {
  int status = 500;
  std::string detail;
  int retry_after_s = 0;  // > 0: the answer carries Retry-After
};
PublicError ToPublicError(const Status& s);

// Seconds a client is asked to wait after a 503 for an unavailable store.
inline constexpr int kStoreRetryAfterSeconds = 1;

// Adds Retry-After when `e` asks for one; returns `r`.
HttpResponse WithRetryAfter(HttpResponse r, const PublicError& e);

// Problem() of ToPublicError(s), with its Retry-After.
HttpResponse ProblemFromStatus(const Status& s);

}  // namespace attestd::api
