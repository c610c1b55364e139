#include "api/problem.h"

#include "common/json_writer.h"
#include "common/log.h"
#include "store/session_store.h"

namespace attestd::api {

HttpResponse Problem(int status, std::string_view detail) {
  JsonWriter w;
  w.BeginObject()
      .Key("type")
      .String("about:blank")
      .Key("title")
      .String(ReasonPhrase(status))
      .Key("status")
      .Int(status)
      .Key("detail")
      .String(detail)
      .EndObject();
  HttpResponse r;
  r.status = status;
  r.content_type = kProblemMediaType;
  r.body = w.Take();
  return r;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kUnsupportedMediaType:
      return 415;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

PublicError ToPublicError(const Status& s) {
  PublicError e;
  e.status = HttpStatusFor(s.code());
  switch (s.code()) {
    case StatusCode::kUnavailable:
      if (IsSessionCapReached(s)) {
        e.detail = s.message();
        e.retry_after_s = kSessionCapRetryAfterSeconds;
        return e;
      }
      LogWarn("store unavailable", {{"error", s.message()}});
      e.detail = "the service is temporarily unavailable; retry later";
      e.retry_after_s = kStoreRetryAfterSeconds;
      return e;
    case StatusCode::kInternal:
      LogError("internal error", {{"error", s.message()}});
      e.detail = "internal error";
      return e;
    default:
      e.detail = s.message();
      return e;
  }
}

HttpResponse WithRetryAfter(HttpResponse r, const PublicError& e) {
  if (e.retry_after_s > 0) r.AddHeader("Retry-After", std::to_string(e.retry_after_s));
  return r;
}

HttpResponse ProblemFromStatus(const Status& s) {
  PublicError e = ToPublicError(s);
  return WithRetryAfter(Problem(e.status, e.detail), e);
}

}  // namespace attestd::api
