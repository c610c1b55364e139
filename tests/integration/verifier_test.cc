// The Keylime-compatible verifier end to end: an in-process attestd whose
// verifier listener uses the CA it generates under --data-dir (mTLS, as
// Keylime's tenant always speaks to it), requests shaped as the contract's
// "What real Keylime clients send" says (no Content-Type on POST, the body's
// code read instead of the HTTP status), against the memory store and a
// real redis-server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "common/log.h"
#include "server/application.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

testing::TlsClientOptions TenantTls(const TlsMaterial& tls) {
  return {tls.ca_cert, tls.client_cert, tls.client_key};
}

Config BaseConfig(const std::string& data_dir) {
  Config config;
  config.listen = "127.0.0.1:0";
  config.verifier_listen = "127.0.0.1:0";
  config.data_dir = data_dir;
  config.threads = 2;
  config.workers = 1;
  config.log_level = "off";
  return config;
}

// ---------------------------------------------------------------------------
// The listener: mTLS with generated material, or plain HTTP when asked.

TEST(VerifierListener, GeneratedCaRequiresClientCertificate) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  Config config = BaseConfig(data.path() + "/data");
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  const TlsMaterial tls = (*app)->verifier_tls();
  for (const std::string& f : {tls.ca_cert, tls.server_cert, tls.server_key, tls.client_cert, tls.client_key}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  HttpClient tenant((*app)->verifier_port(), TenantTls(tls));
  HttpResponse r = tenant.Request("GET", "/version");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/code"), "200");
  EXPECT_EQ(JsonAt(r.body, "/results/current_version"), "2.6");
  EXPECT_EQ(JsonAt(r.body, "/results/supported_versions"),
            R"(["2.0","2.1","2.2","2.3","2.4","2.5","2.6","3.0"])");
  // Unknown routes keep the envelope.
  r = tenant.Request("GET", "/v2.6/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(JsonAt(r.body, "/code"), "404");

  // No client certificate: no answer.
  HttpClient anonymous((*app)->verifier_port(), testing::TlsClientOptions{tls.ca_cert, "", ""});
  anonymous.set_timeout_ms(2000);
  EXPECT_EQ(anonymous.Request("GET", "/version").status, 0);
  // A client certificate of another CA: no answer either.
  testing::TempDir other;
  auto foreign = EnsureTlsMaterial(other.path(), "verifier", {});
  ASSERT_TRUE(foreign.ok());
  HttpClient stranger((*app)->verifier_port(),
                      testing::TlsClientOptions{tls.ca_cert, foreign->client_cert, foreign->client_key});
  stranger.set_timeout_ms(2000);
  EXPECT_EQ(stranger.Request("GET", "/version").status, 0);
  // Plain HTTP to the TLS port gets nothing useful.
  HttpClient plain((*app)->verifier_port());
  plain.set_timeout_ms(2000);
  EXPECT_NE(plain.Request("GET", "/version").status, 200);

  std::string ca_before = Slurp(tls.ca_cert);
  std::string client_before = Slurp(tls.client_cert);
  (*app)->Shutdown(std::chrono::milliseconds(1000));
  // A second start reuses the CA and the tenant's client certificate.
  auto again = Application::Create(config);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp((*again)->verifier_tls().ca_cert), ca_before);
  EXPECT_EQ(Slurp((*again)->verifier_tls().client_cert), client_before);
}

TEST(VerifierListener, GivenCertificatesAndInsecureMode) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  auto given = EnsureTlsMaterial(data.path() + "/given", "verifier", {"127.0.0.1"});
  ASSERT_TRUE(given.ok());
  Config config = BaseConfig(data.path() + "/data");
  config.verifier_tls_cert = given->server_cert;
  config.verifier_tls_key = given->server_key;
  config.verifier_tls_ca = given->ca_cert;
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  HttpClient tenant((*app)->verifier_port(), TenantTls(*given));
  EXPECT_EQ(tenant.Request("GET", "/version").status, 200);
  (*app)->Shutdown(std::chrono::milliseconds(1000));

  Config insecure = BaseConfig(data.path() + "/data2");
  insecure.insecure_verifier = true;
  auto plain_app = Application::Create(insecure);
  ASSERT_TRUE(plain_app.ok()) << plain_app.status().ToString();
  ASSERT_TRUE((*plain_app)->Start().ok());
  HttpClient plain((*plain_app)->verifier_port());
  EXPECT_EQ(plain.Request("GET", "/version").status, 200);
}

TEST(VerifierListener, OffUnlessConfigured) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  Config config = BaseConfig(data.path() + "/data");
  config.verifier_listen = "none";
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok());
  ASSERT_TRUE((*app)->Start().ok());
  EXPECT_EQ((*app)->verifier_port(), 0);
}

}  // namespace
}  // namespace attestd
