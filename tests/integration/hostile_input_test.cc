// What a hostile client meets on every listener of a real attestd
// (challenge-response over TLS, the registrar's public listener, its admin
// listener and the verifier, both mTLS): every malformed header, chunked
// body and oversize request of the table gets a clean 4xx in that
// listener's own error format (problem+json, the Keylime envelope, JSON:API
// under /v3 on the verifier), never an exception text, a library name, an
// address or a path; odd Content-Type and Accept headers get 415 (with
// Accept) and 406 where the contract says so.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "api/problem.h"
#include "common/log.h"
#include "server/application.h"
#include "server/tls_material.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/test_verifiers.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

constexpr size_t kMaxBody = 64 * 1024;
constexpr char kSession[] = "/challenge-response/v1/session/00000000-0000-4000-8000-000000000000";

enum class Format { kProblem, kEnvelope, kJsonApi };

// One listener and a path on it that takes a POST body.
struct Target {
  std::string name;
  int port = 0;
  std::optional<testing::TlsClientOptions> tls;
  std::string path;
  Format format;
};

struct Case {
  std::string name;
  std::string request;  // "{PATH}" is replaced by the target's path
  int status;           // 0: any 4xx
};

std::vector<Case> Cases() {
  const std::string chunked =
      "POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string post = "POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  std::string over_limit;  // 70 chunks of 1000 bytes: over kMaxBody in total
  for (int i = 0; i < 70; ++i) over_limit += "3e8\r\n" + std::string(1000, 'a') + "\r\n";
  return {
      {"chunk size 2^64-1", chunked + "ffffffffffffffff\r\nabc\r\n0\r\n\r\n", 0},
      {"chunk size 2^64", chunked + "10000000000000000\r\nabc\r\n0\r\n\r\n", 0},
      {"chunk size -1", chunked + "-1\r\nabc\r\n0\r\n\r\n", 400},
      {"chunk size 2 GiB", chunked + "7fffffff\r\nabc", 413},
      {"chunk size over the body limit", chunked + "10001\r\nabc", 413},
      {"chunk without its CRLF", chunked + "3\r\nabcXY0\r\n\r\n", 400},
      {"chunk size not hex", chunked + "zz\r\nabc\r\n0\r\n\r\n", 400},
      {"chunk extension garbage", chunked + "3;\x01\r\nabc\r\n0\r\n\r\n", 400},
      {"chunks over the body limit", chunked + over_limit + "0\r\n\r\n", 413},
      {"chunked and Content-Length",
       "POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
       "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       400},
      {"unknown Transfer-Encoding", post + "Transfer-Encoding: gzip\r\n\r\nabc", 0},
      {"body of 3 MiB", post + "Content-Length: 3145728\r\n\r\n" + std::string(3 << 20, 'a'), 413},
      {"negative Content-Length", post + "Content-Length: -5\r\n\r\n", 400},
      {"huge Content-Length", post + "Content-Length: 99999999999999999999999\r\n\r\n", 0},
      {"two Content-Lengths", post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"target over 8 KiB", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"headers over 64 KiB",
       "GET {PATH} HTTP/1.1\r\nX-Big: " + std::string(66000, 'b') + "\r\n\r\n", 431},
      {"header without a colon", "GET {PATH} HTTP/1.1\r\nHost x\r\n\r\n", 400},
      {"control byte in a header", "GET {PATH} HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 400},
      {"unknown method", "BREW {PATH} HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"not HTTP", std::string("\x01\x02\x03\r\n\r\n"), 400},
      {"bad version", "GET {PATH} HTTP/9\r\n\r\n", 400},
      {"bad percent-encoding", "GET {PATH}?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
  };
}

std::string Fill(std::string request, const std::string& path) {
  for (size_t p; (p = request.find("{PATH}")) != std::string::npos;) {
    request.replace(p, 6, path);
  }
  return request;
}

// Asserts `r` is an error in `format` whose own status field says `r.status`.
void ExpectFormat(const HttpResponse& r, Format format, const std::string& what) {
  switch (format) {
    case Format::kProblem:
      EXPECT_EQ(r.header("content-type"), api::kProblemMediaType) << what;
      EXPECT_EQ(JsonAt(r.body, "/status"), std::to_string(r.status)) << what << ": " << r.body;
      break;
    case Format::kEnvelope:
      EXPECT_EQ(r.header("content-type"), "application/json") << what;
      EXPECT_EQ(JsonAt(r.body, "/code"), std::to_string(r.status)) << what << ": " << r.body;
      EXPECT_TRUE(JsonAt(r.body, "/status").has_value()) << what << ": " << r.body;
      break;
    case Format::kJsonApi:
      EXPECT_EQ(r.header("content-type"), "application/vnd.api+json") << what;
      EXPECT_EQ(JsonAt(r.body, "/errors/0/status"), std::to_string(r.status))
          << what << ": " << r.body;
      break;
  }
}

// Nothing of the server's insides: exception texts, library names,
// addresses, paths, Redis's words.
void ExpectNoInternals(const HttpResponse& r, const std::string& what) {
  for (const char* leak : {"bad_alloc", "_M_create", "std::", "exception", "what()", "boost",
                           "beast", "127.0.0.1", "/tmp", ".cc", "redis", "OOM", "script"}) {
    EXPECT_EQ(r.body.find(leak), std::string::npos) << what << " leaks " << leak << ": " << r.body;
  }
}

class HostileInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetLogLevel(LogLevel::kOff);
    dir_ = new testing::TempDir();
    auto cr_tls = EnsureTlsMaterial(dir_->path() + "/cr", "challenge-response", {"127.0.0.1"});
    ASSERT_TRUE(cr_tls.ok()) << cr_tls.status().ToString();
    cr_ca_ = cr_tls->ca_cert;
    Config c;
    c.listen = "127.0.0.1:0";
    c.tls_cert = cr_tls->server_cert;
    c.tls_key = cr_tls->server_key;
    c.registrar_listen = "127.0.0.1:0";
    c.registrar_admin_listen = "127.0.0.1:0";
    c.verifier_listen = "127.0.0.1:0";
    c.data_dir = dir_->path() + "/data";
    c.threads = 2;
    c.workers = 1;
    c.log_level = "off";
    c.max_body = kMaxBody;
    auto app = Application::Create(c, testing::MakeTestRegistry());
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = app->release();
    ASSERT_TRUE(app_->Start().ok());
  }
  static void TearDownTestSuite() {
    delete app_;
    app_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(app_, nullptr); }

  static testing::TlsClientOptions Mtls(const TlsMaterial& m) {
    return {m.ca_cert, m.client_cert, m.client_key};
  }

  static std::vector<Target> Targets() {
    return {
        {"challenge-response (TLS)", app_->port(), testing::TlsClientOptions{cr_ca_, "", ""},
         kSession, Format::kProblem},
        {"registrar", app_->registrar_port(), std::nullopt, "/v2.1/agents/a1", Format::kEnvelope},
        {"registrar-admin (mTLS)", app_->registrar_admin_port(), Mtls(app_->registrar_tls()),
         "/v2.1/agents/a1", Format::kEnvelope},
        {"verifier v2 (mTLS)", app_->verifier_port(), Mtls(app_->verifier_tls()), "/v2.1/agents/a1",
         Format::kEnvelope},
        {"verifier v3 (mTLS)", app_->verifier_port(), Mtls(app_->verifier_tls()), "/v3/sessions",
         Format::kJsonApi},
    };
  }

  static std::unique_ptr<HttpClient> ClientFor(const Target& t) {
    auto c =
        t.tls ? std::make_unique<HttpClient>(t.port, *t.tls) : std::make_unique<HttpClient>(t.port);
    c->set_timeout_ms(5000);
    return c;
  }

  static testing::TempDir* dir_;
  static std::string cr_ca_;
  static Application* app_;
};

testing::TempDir* HostileInputTest::dir_ = nullptr;
std::string HostileInputTest::cr_ca_;
Application* HostileInputTest::app_ = nullptr;

TEST_F(HostileInputTest, MalformedFramingAndOversizeOnEveryListener) {
  for (const Target& t : Targets()) {
    for (const Case& c : Cases()) {
      std::string what = t.name + ": " + c.name;
      std::string request = Fill(c.request, t.path);
      // Without a request line naming the v3 path, the verifier answers
      // in its default format, the envelope.
      bool no_v3_path =
          c.name == "target over 8 KiB" || c.name == "not HTTP" || c.name == "bad version";
      Format format = no_v3_path && t.format == Format::kJsonApi ? Format::kEnvelope : t.format;
      HttpResponse r = ClientFor(t)->Raw(request);
      if (c.status) {
        EXPECT_EQ(r.status, c.status) << what << ": " << r.body;
      } else {
        EXPECT_GE(r.status, 400) << what;
        EXPECT_LT(r.status, 500) << what;
      }
      ExpectFormat(r, format, what);
      ExpectNoInternals(r, what);
    }
    // The listener still serves.
    HttpResponse after = ClientFor(t)->Request("GET", "/version");
    EXPECT_GT(after.status, 0) << t.name;
  }
}

TEST_F(HostileInputTest, MalformedContentTypeOnEvidenceIs415WithAccept) {
  Target cr = Targets()[0];
  auto c = ClientFor(cr);
  HttpResponse s = c->Request("POST", "/challenge-response/v1/newSession");
  ASSERT_EQ(s.status, 201) << s.body;
  for (const std::string& type :
       std::vector<std::string>{"", "garbage", "a/b", "/json", "application/", "text/plain; a",
                                ";;;", "application/json; charset=\"", std::string(300, 'x')}) {
    HttpResponse r = c->Request("POST", s.header("location"), {{"Content-Type", type}}, "{}");
    EXPECT_EQ(r.status, 415) << "'" << type << "': " << r.body;
    EXPECT_NE(r.header("accept").find(testing::kEchoType), std::string::npos) << type;
    ExpectFormat(r, Format::kProblem, "Content-Type " + type);
    ExpectNoInternals(r, "Content-Type " + type);
  }
  // Without the header at all.
  HttpResponse none = c->Raw("POST " + s.header("location") +
                             " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(none.status, 415) << none.body;
  EXPECT_FALSE(none.header("accept").empty());
}

TEST_F(HostileInputTest, BadAcceptOnNewSessionIs406) {
  auto c = ClientFor(Targets()[0]);
  for (const std::string accept :
       {"garbage", "text/html", "/", "a/b;q=x", "application/json;q=0", "*/*;q=2"}) {
    HttpResponse r = c->Request("POST", "/challenge-response/v1/newSession", {{"Accept", accept}});
    EXPECT_EQ(r.status, 406) << accept << ": " << r.body;
    ExpectFormat(r, Format::kProblem, "Accept " + accept);
  }
  EXPECT_EQ(c->Request("POST", "/challenge-response/v1/newSession", {{"Accept", "*/*"}}).status,
            201);
}

// Keylime's agent and tenant send JSON with any Content-Type or none: the
// header is never what the answer turns on, and the answer keeps the format.
TEST_F(HostileInputTest, KeylimeListenersIgnoreContentTypeAndKeepTheirFormat) {
  for (const Target& t : Targets()) {
    if (t.format == Format::kProblem) continue;
    for (const std::string type : {"garbage", "a/b", "/json", "application/"}) {
      HttpResponse r = ClientFor(t)->Request("POST", t.path, {{"Content-Type", type}}, "not json");
      std::string what = t.name + " Content-Type " + type;
      EXPECT_GE(r.status, 400) << what;
      EXPECT_LT(r.status, 500) << what << ": " << r.body;
      EXPECT_NE(r.status, 415) << what;
      ExpectFormat(r, t.format, what);
      ExpectNoInternals(r, what);
    }
  }
}

TEST_F(HostileInputTest, UnknownPathsAndMethodsKeepTheFormat) {
  for (const Target& t : Targets()) {
    HttpResponse missing = ClientFor(t)->Request("GET", t.path + "/no/such/thing");
    EXPECT_EQ(missing.status, 404) << t.name;
    ExpectFormat(missing, t.format, t.name + " 404");
    HttpResponse method = ClientFor(t)->Request("PUT", "/challenge-response/v1/newSession");
    EXPECT_GE(method.status, 400) << t.name;
  }
}

}  // namespace
}  // namespace attestd
