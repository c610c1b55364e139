// RFC 9457 problem details: every error body the challenge-response listener
// sends is one of these.
#pragma once

#include <string_view>

#include "api/http_types.h"
#include "common/status.h"

namespace attestd::api {

inline constexpr char kProblemMediaType[] = "application/problem+json";

// {"type":"about:blank","title":<reason phrase>,"status":N,"detail":<detail>}
HttpResponse Problem(int status, std::string_view detail);

// The HTTP status for a domain error code.
int HttpStatusFor(StatusCode code);

// Problem(HttpStatusFor(s.code()), s.message()).
HttpResponse ProblemFromStatus(const Status& s);

}  // namespace attestd::api
