// The Keylime API plumbing: envelope, version prefixes, JSON body helpers
// and the registrar's auth_tag, without sockets.
#include <gtest/gtest.h>

#include "api/keylime/keylime_api.h"
#include "service/registrar_service.h"
#include "tests/support/json.h"

namespace attestd::api::keylime {
namespace {

using attestd::testing::JsonAt;

TEST(KeylimeApi, EnvelopeCodeEqualsHttpStatus) {
  HttpResponse ok = Envelope(200, "Success", R"({"a":1})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"code":200,"status":"Success","results":{"a":1}})");
  HttpResponse err = EnvelopeFromStatus(Status(StatusCode::kPermissionDenied, "no"));
  EXPECT_EQ(err.status, 403);
  EXPECT_EQ(JsonAt(err.body, "/code"), "403");
  EXPECT_EQ(JsonAt(err.body, "/status"), "no");
  EXPECT_EQ(JsonAt(err.body, "/results"), "{}");
  EXPECT_EQ(EnvelopeFromStatus(NotFound("x")).status, 404);
}

TEST(KeylimeApi, VersionPrefixes) {
  EXPECT_EQ(ParseApiVersion("v2"), "2.0");
  EXPECT_EQ(ParseApiVersion("v3"), "3.0");
  EXPECT_EQ(ParseApiVersion("v2.6"), "2.6");
  EXPECT_EQ(ParseApiVersion("v3.0"), "3.0");
  for (const char* bad : {"v2.7", "v3.1", "v1.0", "2.1", "v", "", "v2.", "v22.1", "version"}) {
    EXPECT_FALSE(ParseApiVersion(bad).has_value()) << bad;
  }
}

TEST(KeylimeApi, RouterVersionsSlashesAndErrors) {
  auto router = MakeKeylimeRouter();
  AddVersionedRoute(*router, "GET", "/things/:id", Versions::kV2, [](const HttpRequest& r) {
    return Envelope(200, "Success", "{\"id\":\"" + r.params.at("id") + "\"}");
  });
  auto dispatch = [&](const std::string& method, const std::string& path) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    return router->Dispatch(r).response;
  };
  EXPECT_EQ(dispatch("GET", "/v2.1/things/7").status, 200);
  EXPECT_EQ(dispatch("GET", "/v2/things/7/").status, 200);
  EXPECT_EQ(dispatch("GET", "/v3.0/things/7").status, 404);  // a v2-only route
  EXPECT_EQ(dispatch("GET", "/v7/things/7").status, 404);
  HttpResponse missing = dispatch("GET", "/v2.1/other");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(JsonAt(missing.body, "/code"), "404");
  HttpResponse method = dispatch("DELETE", "/v2.1/things/7");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(JsonAt(method.body, "/code"), "405");
  EXPECT_EQ(JsonAt(dispatch("GET", "/version").body, "/results/current_version"), "2.6");
}

TEST(KeylimeApi, JsonBodyTypes) {
  JsonBody b;
  ASSERT_TRUE(b.Parse(R"({"s":"x","n":5,"z":null,"p":"9002","q":9003,"big":70000,"neg":-1})").ok());
  EXPECT_EQ(**b.OptionalString("s"), "x");
  EXPECT_FALSE(b.OptionalString("absent")->has_value());
  EXPECT_FALSE(b.OptionalString("z")->has_value());
  EXPECT_FALSE(b.OptionalString("n").ok());
  EXPECT_FALSE(b.RequiredString("z").ok());
  EXPECT_EQ(**b.OptionalPort("p"), 9002);
  EXPECT_EQ(**b.OptionalPort("q"), 9003);
  EXPECT_FALSE(b.OptionalPort("big").ok());
  EXPECT_FALSE(b.OptionalPort("neg").ok());
  EXPECT_FALSE(b.OptionalPort("s").ok());
  JsonBody bad;
  EXPECT_FALSE(bad.Parse("").ok());
  EXPECT_FALSE(bad.Parse("{").ok());
  EXPECT_FALSE(bad.Parse("[]").ok());
  EXPECT_FALSE(bad.Parse("\"s\"").ok());
}

TEST(RegistrarAuthTag, IsHexHmacSha384OfTheAgentIdKeyedByBase64Challenge) {
  // printf agent-1 | openssl dgst -sha384 -hmac MTIzNA==
  EXPECT_EQ(RegistrarService::AuthTag("MTIzNA==", "agent-1"),
            "db0a57125b1ffe91520f63d4c1eb1170286003ab7625bb68d43a9b5624ed5b202d9e70b90c238124682fa4"
            "a54068638c");
}

TEST(RegistrarAgentId, KeylimeRule) {
  EXPECT_TRUE(RegistrarService::ValidAgentId("d432fbb3-d2f1-4a97-9ef7-75bd81c00000"));
  EXPECT_TRUE(RegistrarService::ValidAgentId("host.example_1"));
  EXPECT_FALSE(RegistrarService::ValidAgentId(""));
  EXPECT_FALSE(RegistrarService::ValidAgentId("a{b}"));
  EXPECT_FALSE(RegistrarService::ValidAgentId("a/b"));
  EXPECT_FALSE(RegistrarService::ValidAgentId(std::string(256, 'a')));
}

}  // namespace
}  // namespace attestd::api::keylime
