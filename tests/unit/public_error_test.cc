// What clients are told of domain errors (ToPublicError and the three
// formats built on it), and the router's per-route guards and per-path
// error formats.
#include <gtest/gtest.h>

#include "api/keylime/keylime_api.h"
#include "api/problem.h"
#include "api/router.h"
#include "common/log.h"
#include "store/session_store.h"
#include "tests/support/json.h"

namespace attestd::api {
namespace {

using testing::JsonAt;

std::string HeaderOf(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(PublicError, StoreErrorsHideTheirTextAndAskToRetry) {
  SetLogLevel(LogLevel::kOff);
  Status oom = Unavailable(
      "redis: OOM command not allowed when used memory > 'maxmemory'. script: "
      "b0a6f7ba9bd0d8a94a80920f713b17f0d531e9f5, on @user_script:3.");
  PublicError e = ToPublicError(oom);
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(e.detail, "the service is temporarily unavailable; retry later");
  EXPECT_EQ(e.retry_after_s, kStoreRetryAfterSeconds);
  for (const HttpResponse& r :
       {ProblemFromStatus(oom), keylime::EnvelopeFromStatus(oom),
        ProblemFromStatus(Unavailable("redis 10.0.0.5:6379/0 unreachable"))}) {
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
    for (const char* leak : {"redis", "OOM", "b0a6f7", "10.0.0.5"}) {
      EXPECT_EQ(r.body.find(leak), std::string::npos) << r.body;
    }
  }
}

TEST(PublicError, InternalErrorsSayNothingMore) {
  SetLogLevel(LogLevel::kOff);
  HttpResponse r = ProblemFromStatus(Internal("openssl: sign failed at /usr/src/x.c:12"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(JsonAt(r.body, "/detail"), "internal error");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "");
}

TEST(PublicError, ClientErrorsAndTheSessionCapKeepTheirWords) {
  PublicError bad = ToPublicError(InvalidArgument("nonce must be 8..64 bytes, got 3"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.detail, "nonce must be 8..64 bytes, got 3");
  EXPECT_EQ(bad.retry_after_s, 0);
  HttpResponse cap = ProblemFromStatus(SessionCapReached());
  EXPECT_EQ(cap.status, 503);
  EXPECT_EQ(JsonAt(cap.body, "/detail"), "too many live sessions; retry later");
  EXPECT_EQ(HeaderOf(cap, "Retry-After"), std::to_string(kSessionCapRetryAfterSeconds));
}

TEST(RouterGuard, RefusesBeforeTheHandlerRuns) {
  Router router(Problem);
  int calls = 0;
  router.Add("POST", "/x", [&calls](const HttpRequest&) {
    ++calls;
    return HttpResponse{};
  });
  EXPECT_FALSE(router.Guard("GET", "/x", nullptr));  // no such route
  bool open = false;
  ASSERT_TRUE(
      router.Guard("POST", "/x", [&open](const HttpRequest&) -> std::optional<HttpResponse> {
        if (open) return std::nullopt;
        return Problem(429, "slow down");
      }));
  HttpRequest req;
  req.method = "POST";
  req.path = "/x";
  Router::Outcome refused = router.Dispatch(req);
  EXPECT_EQ(refused.response.status, 429);
  EXPECT_EQ(refused.route, "/x");
  EXPECT_EQ(calls, 0);
  open = true;
  EXPECT_EQ(router.Dispatch(req).response.status, 200);
  EXPECT_EQ(calls, 1);
}

TEST(RouterPathErrors, V3PathsGetJsonApiOnTheVerifier) {
  auto router = keylime::MakeKeylimeRouter();
  keylime::UseJsonApiErrorsUnderV3(*router);
  HttpResponse v3 = router->ErrorFor("/v3.0/agents/a/attestations", 413, "too big");
  EXPECT_EQ(v3.content_type, "application/vnd.api+json");
  EXPECT_EQ(JsonAt(v3.body, "/errors/0/status"), "413");
  for (const char* path : {"/v2.1/agents/a", "", "/", "/v3x/a", "v3/a", "/version"}) {
    HttpResponse r = router->ErrorFor(path, 400, "bad");
    EXPECT_EQ(r.content_type, "application/json") << path;
    EXPECT_EQ(JsonAt(r.body, "/code"), "400") << path;
  }
  HttpRequest req;
  req.method = "GET";
  req.path = "/v3/nothing/here";
  EXPECT_EQ(JsonAt(router->Dispatch(req).response.body, "/errors/0/status"), "404");
}

}  // namespace
}  // namespace attestd::api
