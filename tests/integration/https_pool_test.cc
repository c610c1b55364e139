// The pull client's connection pool against attestd's own TLS listener:
// connections are kept per agent and certificate, replaced when the agent
// closed them, and never reused across certificates.
#include "api/keylime/https_pool.h"

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "api/router.h"
#include "server/tls_material.h"
#include "tests/support/processes.h"
#include "tests/support/tpm_evidence.h"

namespace attestd::api::keylime {
namespace {

class HttpsPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tls = EnsureTlsMaterial(dir_.path() + "/a", "agent", {"127.0.0.1"});
    auto other = EnsureTlsMaterial(dir_.path() + "/b", "agent", {"127.0.0.1"});
    ASSERT_TRUE(tls.ok() && other.ok());
    tls_ = *tls;
    server_cert_ = testing::ReadFileOrEmpty(tls_.server_cert);
    other_cert_ = testing::ReadFileOrEmpty(other->server_cert);
    router_ = std::make_shared<Router>([](int status, std::string_view detail) {
      HttpResponse r;
      r.status = status;
      r.body = std::string(detail);
      return r;
    });
    router_->Add("GET", "/hello", [](const HttpRequest&) {
      HttpResponse r;
      r.content_type = "application/json";
      r.body = "{\"hello\": 1}";
      return r;
    });
    ASSERT_TRUE(StartServer());
  }

  bool StartServer() {
    ListenerOptions lo;
    lo.name = "agent";
    lo.address = "127.0.0.1:" + std::to_string(port_);
    lo.threads = 1;
    lo.tls_cert = tls_.server_cert;
    lo.tls_key = tls_.server_key;
    lo.tls_ca = tls_.ca_cert;  // the client certificate below is issued by it
    server_ = std::make_unique<HttpServer>(lo, router_);
    if (!server_->Start().ok()) return false;
    port_ = server_->port();
    return true;
  }

  std::unique_ptr<HttpsPool> Pool(int64_t idle_timeout_ms = 60000) {
    PoolOptions o;
    o.client_cert_pem = testing::ReadFileOrEmpty(tls_.client_cert);
    o.client_key_pem = testing::ReadFileOrEmpty(tls_.client_key);
    o.timeout_ms = 5000;
    o.idle_timeout_ms = idle_timeout_ms;
    o.threads = 1;
    auto pool = HttpsPool::Create(o);
    EXPECT_TRUE(pool.ok());
    return pool.ok() ? std::move(*pool) : nullptr;
  }

  PoolRequest Hello(const std::string& cert) const {
    PoolRequest r;
    r.tls = true;
    r.host = "127.0.0.1";
    r.port = std::to_string(port_);
    r.target = "/hello";
    r.trusted_cert = cert;
    return r;
  }

  testing::TempDir dir_;
  TlsMaterial tls_;
  std::string server_cert_, other_cert_;
  std::shared_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpsPoolTest, KeepsOneConnectionPerAgentBetweenCalls) {
  auto pool = Pool();
  for (int i = 0; i < 3; ++i) {
    auto reply = pool->Call(Hello(server_cert_));
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "{\"hello\": 1}");
  }
  EXPECT_EQ(pool->opened(), 1u);
  EXPECT_EQ(pool->idle(), 1u);
}

TEST_F(HttpsPoolTest, ANewConnectionWhenTheAgentClosedTheIdleOne) {
  auto pool = Pool();
  ASSERT_TRUE(pool->Call(Hello(server_cert_)).ok());
  server_->Stop();  // closes the kept connection from the agent's side
  ASSERT_TRUE(StartServer());
  auto reply = pool->Call(Hello(server_cert_));
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(pool->opened(), 2u);
}

TEST_F(HttpsPoolTest, AnotherCertificateNeverReusesTheVerifiedConnection) {
  auto pool = Pool();
  ASSERT_TRUE(pool->Call(Hello(server_cert_)).ok());
  // The agent re-registered with a certificate its server does not have:
  // the connection verified against the old one must not answer for it.
  auto reply = pool->Call(Hello(other_cert_));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(pool->opened(), 1u);  // the handshake failed: nothing opened
  EXPECT_TRUE(pool->Call(Hello(server_cert_)).ok());
  EXPECT_EQ(pool->opened(), 1u);  // the first connection is still the one kept
}

TEST_F(HttpsPoolTest, NothingKeptWithoutAnIdleTimeout) {
  auto pool = Pool(0);
  ASSERT_TRUE(pool->Call(Hello(server_cert_)).ok());
  ASSERT_TRUE(pool->Call(Hello(server_cert_)).ok());
  EXPECT_EQ(pool->opened(), 2u);
  EXPECT_EQ(pool->idle(), 0u);
}

TEST_F(HttpsPoolTest, WithoutACertificateTheSystemCasDecideAndRefuseAPrivateCa) {
  auto pool = Pool();
  auto reply = pool->Call(Hello(""));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
}

TEST_F(HttpsPoolTest, NotAPemCertificateIsRefusedBeforeConnecting) {
  auto pool = Pool();
  auto reply = pool->Call(Hello("not a certificate"));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pool->opened(), 0u);
}

TEST_F(HttpsPoolTest, NoListenerIsUnavailable) {
  auto pool = Pool();
  server_->Stop();
  auto reply = pool->Call(Hello(server_cert_));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace attestd::api::keylime
