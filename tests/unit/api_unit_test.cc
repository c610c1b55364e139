#include <gtest/gtest.h>

#include "api/http_server.h"
#include "api/negotiation.h"
#include "api/problem.h"
#include "api/router.h"
#include "api/session_json.h"
#include "common/appraisal.h"
#include "common/time_util.h"
#include "common/value_json.h"
#include "tests/support/json.h"
#include "verifiers/registry.h"

namespace attestd {
namespace {

using testing::JsonAt;

TEST(MediaType, NormalizesCaseAndDropsParameters) {
  EXPECT_EQ(NormalizeMediaType("Application/VND.Foo+JSON; charset=utf-8"),
            "application/vnd.foo+json");
  EXPECT_EQ(NormalizeMediaType("  application/x  "), "application/x");
  EXPECT_EQ(NormalizeMediaType("application/x;q=1;b=2"), "application/x");
}

TEST(MediaType, RejectsNonMediaTypes) {
  for (const char* bad :
       {"", "garbage", "/json", "application/", "a/b/c", "appli cation/x", "a/\x01"}) {
    EXPECT_EQ(NormalizeMediaType(bad), "") << bad;
  }
}

TEST(Accept, AdmitsWildcardsExactAndQ) {
  std::vector<std::string> offered = {"application/vnd.x+json", "application/json"};
  EXPECT_TRUE(api::AcceptAdmits("", offered));
  EXPECT_TRUE(api::AcceptAdmits("*/*", offered));
  EXPECT_TRUE(api::AcceptAdmits("application/*", offered));
  EXPECT_TRUE(api::AcceptAdmits("Application/JSON", offered));
  EXPECT_TRUE(api::AcceptAdmits("text/html;q=0.9, application/vnd.x+json;q=0.1", offered));
  EXPECT_FALSE(api::AcceptAdmits("text/*", offered));
  EXPECT_FALSE(api::AcceptAdmits("application/json;q=0", offered));
  EXPECT_FALSE(api::AcceptAdmits("application/json;q=0.000", offered));
  EXPECT_FALSE(api::AcceptAdmits("application/json;q=2", offered));
  EXPECT_FALSE(api::AcceptAdmits("nonsense", offered));
}

TEST(Prefer, ParsesRespondAsyncAndWait) {
  auto p = api::ParsePrefer("respond-async, wait=10");
  EXPECT_TRUE(p.respond_async);
  EXPECT_EQ(p.wait_seconds, 10);
  EXPECT_FALSE(api::ParsePrefer("").respond_async);
  EXPECT_FALSE(api::ParsePrefer("wait=abc").wait_seconds.has_value());
  EXPECT_FALSE(api::ParsePrefer("wait=-1").wait_seconds.has_value());
  EXPECT_TRUE(api::ParsePrefer("handling=lenient; x, RESPOND-ASYNC").respond_async);
}

TEST(Problem, IsRfc9457) {
  api::HttpResponse r = api::Problem(409, "session is complete");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(JsonAt(r.body, "/type"), "about:blank");
  EXPECT_EQ(JsonAt(r.body, "/title"), "Conflict");
  EXPECT_EQ(JsonAt(r.body, "/status"), "409");
  EXPECT_EQ(JsonAt(r.body, "/detail"), "session is complete");
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(api::HttpStatusFor(StatusCode::kUnsupportedMediaType), 415);
}

TEST(SessionJson, WaitingDocument) {
  Session s;
  s.id = "x";
  s.nonce = std::string("\xfb\xff\x00", 3);
  s.expiry_ms = 1918020050520;
  std::string j = api::SessionToJson(s, {"a/b", "c/d"}, api::SessionFormat::kAttestd);
  EXPECT_TRUE(testing::IsValidJson(j));
  EXPECT_EQ(JsonAt(j, "/nonce"), "+/8A");
  EXPECT_EQ(JsonAt(j, "/expiry"), "2030-10-12T07:20:50.520Z");
  EXPECT_EQ(JsonAt(j, "/accept"), R"(["a/b","c/d"])");
  EXPECT_EQ(JsonAt(j, "/state"), "waiting");
  EXPECT_FALSE(JsonAt(j, "/evidence").has_value());
  EXPECT_FALSE(JsonAt(j, "/result").has_value());
}

TEST(SessionJson, CompleteDocumentCarriesEvidenceAndResult) {
  Session s;
  s.nonce = "12345678";
  s.state = SessionState::kComplete;
  s.evidence_type = "a/b";
  s.evidence = std::string("\x00\x01", 2);
  Appraisal a;
  a.is_valid = true;
  a.claims = ParseValueJson(R"({"k":"v"})").value();
  a.trust.hardware = 2;
  s.result = SessionResult{a, ""};
  std::string j = api::SessionToJson(s, {}, api::SessionFormat::kAttestd);
  EXPECT_EQ(JsonAt(j, "/evidence/value"), "AAE=");
  EXPECT_EQ(JsonAt(j, "/result/is_valid"), "true");
  EXPECT_EQ(JsonAt(j, "/result/claims/k"), "v");
  EXPECT_EQ(JsonAt(j, "/result/ear.status"), "affirming");
  EXPECT_EQ(JsonAt(j, "/result/ear.trustworthiness-vector/hardware"), "2");
}

TEST(SessionJson, VeraisonFormatUsesStatusAndUnpaddedUrlSafeNonce) {
  Session s;
  s.nonce = std::string("\xfb\xff\x00", 3);
  std::string j = api::SessionToJson(s, {}, api::SessionFormat::kVeraison);
  EXPECT_EQ(JsonAt(j, "/nonce"), "-_8A");
  EXPECT_EQ(JsonAt(j, "/status"), "waiting");
  EXPECT_FALSE(JsonAt(j, "/state").has_value());
}

TEST(SessionJson, FailedDocumentCarriesError) {
  Session s;
  s.nonce = "12345678";
  s.state = SessionState::kFailed;
  s.error = "store \"down\"";
  std::string j = api::SessionToJson(s, {}, api::SessionFormat::kAttestd);
  EXPECT_EQ(JsonAt(j, "/state"), "failed");
  EXPECT_EQ(JsonAt(j, "/error"), "store \"down\"");
}

TEST(EarStatus, WorstTierWins) {
  TrustVector v;
  EXPECT_EQ(WorstStatus(v), EarStatus::kNone);
  v.hardware = 2;
  EXPECT_EQ(WorstStatus(v), EarStatus::kAffirming);
  v.executables = 33;
  EXPECT_EQ(WorstStatus(v), EarStatus::kWarning);
  v.instance_identity = 99;
  EXPECT_EQ(WorstStatus(v), EarStatus::kContraindicated);
}

TEST(Router, MatchesParamsMethodsAndErrors) {
  api::Router r([](int status, std::string_view d) {
    api::HttpResponse resp;
    resp.status = status;
    resp.body = std::string(d);
    return resp;
  });
  r.Add("GET", "/a/:id", [](const api::HttpRequest& q) {
    api::HttpResponse resp;
    resp.body = std::string(*q.param("id"));
    return resp;
  });
  r.Add("POST", "/a/:id",
        [](const api::HttpRequest&) -> api::HttpResponse { throw std::runtime_error("x"); });
  api::HttpRequest q;
  q.method = "GET";
  q.path = "/a/42";
  auto out = r.Dispatch(q);
  EXPECT_EQ(out.response.body, "42");
  EXPECT_EQ(out.route, "/a/:id");
  q.method = "DELETE";
  out = r.Dispatch(q);
  EXPECT_EQ(out.response.status, 405);
  EXPECT_EQ(out.response.headers.at(0).second, "GET, POST");
  q.method = "POST";
  EXPECT_EQ(r.Dispatch(q).response.status, 500);  // a throwing handler never escapes
  q.method = "GET";
  for (const char* p : {"/a", "/a/1/2", "/a/42/", "//a/42", "a/42"}) {
    q.path = p;
    EXPECT_EQ(r.Dispatch(q).response.status, 404) << p;
  }
  r.set_ignore_trailing_slash(true);
  q.path = "/a/42/";
  EXPECT_EQ(r.Dispatch(q).response.status, 200);
}

TEST(HostPort, Splits) {
  std::string h;
  int p;
  EXPECT_TRUE(api::SplitHostPort("127.0.0.1:8080", &h, &p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 8080);
  EXPECT_TRUE(api::SplitHostPort("[::1]:0", &h, &p));
  EXPECT_EQ(h, "::1");
  for (const char* bad : {"", "8080", "host:", ":80", "h:99999", "h:8a", "[::1:80"}) {
    EXPECT_FALSE(api::SplitHostPort(bad, &h, &p)) << bad;
  }
}

TEST(PercentDecode, DecodesAndRejects) {
  EXPECT_EQ(api::PercentDecode("a%2Bb+c"), "a+b+c");
  EXPECT_FALSE(api::PercentDecode("%zz").has_value());
  EXPECT_FALSE(api::PercentDecode("%2").has_value());
}

}  // namespace
}  // namespace attestd
