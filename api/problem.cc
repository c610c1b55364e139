#include "api/problem.h"

#include "common/json_writer.h"

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

HttpResponse ProblemFromStatus(const Status& s) {
  return Problem(HttpStatusFor(s.code()), s.message());
}

}  // namespace attestd::api
