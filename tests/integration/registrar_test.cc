// The Keylime-compatible registrar end to end: an in-process attestd on
// loopback ports, a real software TPM (swtpm + tpm2-tools) playing the
// agent, bodies shaped like Keylime's Python agent 6.7 sends them (no
// Content-Type, port as a string, ekcert "emulator" or a certificate without
// ek_tpm), against the memory store and a real redis-server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "server/application.h"
#include "service/registrar_service.h"
#include "tests/support/http_client.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/swtpm.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/ek.h"

namespace attestd {
namespace {

namespace fs = std::filesystem;
using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

constexpr char kEkRsaHandle[] = "0x81010001";  // provisioned by tpm-fixtures.sh
constexpr char kEkEccHandle[] = "0x81010002";  // created by the ECC tests
constexpr char kAkRsaHandle[] = "0x81010010";
constexpr char kAkEccHandle[] = "0x81010012";
constexpr char kTpmQuoteType[] = "application/vnd.attestd.tpm2-quote+json";

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// A registration body as Keylime's Python agent 6.7 sends it.
struct AgentBody {
  std::optional<std::string> aik_tpm;  // raw bytes; base64-encoded in the body
  std::optional<std::string> ek_tpm;
  std::optional<std::string> ekcert;  // raw DER, or "emulator" verbatim
  std::string mtls_cert = "disabled";
  std::string ip = "127.0.0.1";
  std::string port = "9002";
  std::optional<std::string> agent_id;  // v3.0 form

  std::string Json() const {
    JsonWriter w;
    w.BeginObject();
    if (agent_id) w.Key("agent_id").String(*agent_id);
    if (ekcert) w.Key("ekcert").String(*ekcert == "emulator" ? *ekcert : Base64Encode(*ekcert));
    if (aik_tpm) w.Key("aik_tpm").String(Base64Encode(*aik_tpm));
    if (ek_tpm) w.Key("ek_tpm").String(Base64Encode(*ek_tpm));
    w.Key("mtls_cert").String(mtls_cert);
    w.Key("ip").String(ip);
    w.Key("port").String(port);
    w.EndObject();
    return w.Take();
  }
};

// ActivateCredential on the swtpm as a Keylime agent does it: the EK's
// policy needs PolicySecret(endorsement) in a policy session.
std::optional<std::string> ActivateOnTpm(const testing::Swtpm& tpm, const std::string& ak_handle,
                                         const std::string& ek_handle, const std::string& blob) {
  static int counter = 0;
  std::string base = tpm.dir() + "/act" + std::to_string(++counter);
  WriteFile(base + ".blob", blob);
  std::string session = base + ".session";
  bool ok = tpm.Run({"tpm2_startauthsession", "--policy-session", "-S", session}) == 0 &&
            tpm.Run({"tpm2_policysecret", "-S", session, "-c", "e"}) == 0 &&
            tpm.Run({"tpm2_activatecredential", "-c", ak_handle, "-C", ek_handle, "-i",
                     base + ".blob", "-o", base + ".secret", "-P", "session:" + session}) == 0;
  tpm.Run({"tpm2_flushcontext", session});
  tpm.Run({"tpm2_flushcontext", "-t"});
  if (!ok) return std::nullopt;
  return Slurp(base + ".secret");
}

std::string AuthTagFor(const std::string& challenge, const std::string& agent_id) {
  return RegistrarService::AuthTag(Base64Encode(challenge), agent_id);
}

class RegistrarTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    tpm_ = new testing::Swtpm();
    if (!tpm_->ok()) return;
    // An ECC P-256 EK next to the fixtures' RSA EK (tpm2_createek's L-2 template).
    ecc_ek_ok_ = tpm_->Run({"tpm2_createek", "-c", kEkEccHandle, "-G", "ecc", "-u",
                            tpm_->dir() + "/ek-ecc.pub"}) == 0;
    tpm_->Run({"tpm2_flushcontext", "-t"});
  }
  static void TearDownTestSuite() {
    delete tpm_;
    tpm_ = nullptr;
  }

  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    ASSERT_TRUE(tpm_ && tpm_->ok()) << "swtpm did not start";
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      config_.store = redis_->url();
    }
    config_.listen = "127.0.0.1:0";
    config_.registrar_listen = "127.0.0.1:0";
    config_.registrar_admin_listen = "127.0.0.1:0";
    config_.insecure_registrar = true;  // the TLS test turns it off
    config_.data_dir = data_.path() + "/data";
    config_.threads = 2;
    config_.workers = 1;
    config_.log_level = "off";
  }

  void StartServer() {
    auto app = Application::Create(config_);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    agent_ = std::make_unique<HttpClient>(app_->registrar_port());
    admin_ = std::make_unique<HttpClient>(app_->registrar_admin_port());
    sessions_ = std::make_unique<HttpClient>(app_->port());
  }

  void TearDown() override {
    agent_.reset();
    admin_.reset();
    sessions_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }

  static std::string EkRsa() { return Slurp(tpm_->dir() + "/ek.pub"); }
  static std::string EkEcc() { return Slurp(tpm_->dir() + "/ek-ecc.pub"); }
  static std::string AkRsa() { return tpm_->AkPublic("rsa"); }
  static std::string AkEcc() { return tpm_->AkPublic("ecc"); }

  static AgentBody PythonAgentBody(const std::string& ek, const std::string& ak) {
    AgentBody b;
    b.ekcert = "emulator";
    b.aik_tpm = ak;
    b.ek_tpm = ek;
    return b;
  }

  // No Content-Type, as the Python agent sends it.
  HttpResponse Register(const std::string& id, const AgentBody& body,
                        const std::string& version = "v2.1") {
    return agent_->Request("POST", "/" + version + "/agents/" + id, {}, body.Json());
  }
  HttpResponse Activate(const std::string& id, const std::string& tag) {
    return agent_->Request("PUT", "/v2.1/agents/" + id + "/activate", {},
                           "{\"auth_tag\":\"" + tag + "\"}");
  }

  static std::string Blob(const HttpResponse& r) {
    return Base64DecodeStd(JsonAt(r.body, "/results/blob").value_or("")).value_or("");
  }

  // Registers, activates on the TPM, and activates over HTTP.
  void RegisterAndActivate(const std::string& id, const AgentBody& body,
                           const std::string& ak_handle, const std::string& ek_handle) {
    HttpResponse r = Register(id, body);
    ASSERT_EQ(r.status, 200) << r.body;
    auto secret = ActivateOnTpm(*tpm_, ak_handle, ek_handle, Blob(r));
    ASSERT_TRUE(secret.has_value()) << "tpm2_activatecredential failed; see " << tpm_->dir();
    EXPECT_EQ(secret->size(), 32u);
    HttpResponse a = Activate(id, AuthTagFor(*secret, id));
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(JsonAt(a.body, "/code"), "200");
  }

  std::vector<std::string> Listed() {
    HttpResponse r = admin_->Request("GET", "/v2.6/agents/");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
      auto id = JsonAt(r.body, "/results/uuids/" + std::to_string(i));
      if (!id) break;
      out.push_back(*id);
    }
    return out;
  }

  // A challenge-response session with a fresh quote by `ak` naming `agent`.
  HttpResponse QuoteSession(const std::string& agent, const std::string& ak) {
    HttpResponse s = sessions_->Request("POST", "/challenge-response/v1/newSession");
    EXPECT_EQ(s.status, 201) << s.body;
    std::string nonce = Base64DecodeStd(JsonAt(s.body, "/nonce").value_or("")).value_or("");
    auto q = tpm_->Quote(ak, nonce, "sha256:0,16");
    EXPECT_TRUE(q.has_value());
    return sessions_->Request("POST", s.header("location"), {{"Content-Type", kTpmQuoteType}},
                              testing::QuoteJson(agent, q ? q->quote : "", "sha256"));
  }

  static testing::Swtpm* tpm_;
  static bool ecc_ek_ok_;
  testing::TempDir data_;
  Config config_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> agent_, admin_, sessions_;
};

testing::Swtpm* RegistrarTest::tpm_ = nullptr;
bool RegistrarTest::ecc_ek_ok_ = false;

TEST_P(RegistrarTest, VersionEnvelopeAndRouting) {
  StartServer();
  for (HttpClient* c : {agent_.get(), admin_.get()}) {
    HttpResponse r = c->Request("GET", "/version");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(JsonAt(r.body, "/code"), "200");
    EXPECT_EQ(JsonAt(r.body, "/results/current_version"), "2.6");
    EXPECT_EQ(JsonAt(r.body, "/results/supported_versions"),
              R"(["2.0","2.1","2.2","2.3","2.4","2.5","2.6","3.0"])");
  }
  // Unknown route and unknown version: 404 in the envelope.
  for (const char* path : {"/v2.1/nothing", "/v9.9/agents/", "/agents/"}) {
    HttpResponse r = admin_->Request("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(JsonAt(r.body, "/code"), "404") << path;
  }
  // Every prefix and both slash forms reach the listing.
  for (const char* v :
       {"v2", "v2.0", "v2.1", "v2.2", "v2.3", "v2.4", "v2.5", "v2.6", "v3", "v3.0"}) {
    EXPECT_EQ(admin_->Request("GET", std::string("/") + v + "/agents").status, 200) << v;
    EXPECT_EQ(admin_->Request("GET", std::string("/") + v + "/agents/").status, 200) << v;
  }
  // Malformed JSON → 400; the body code always equals the HTTP status.
  HttpResponse bad = agent_->Request("POST", "/v2.1/agents/a1", {}, "{\"aik_tpm\":");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(JsonAt(bad.body, "/code"), "400");
  // The public listener does not serve the admin routes and vice versa.
  EXPECT_EQ(agent_->Request("GET", "/v2.1/agents/a1").status, 405);
  EXPECT_EQ(admin_->Request("POST", "/v2.1/agents/a1", {}, "{}").status, 405);
}

TEST_P(RegistrarTest, RsaEkRoundTripWithSwtpmThenQuoteSessionIsValid) {
  StartServer();
  const std::string id = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
  // Before registration the AK is no one's: identity.unknown_attester.
  HttpResponse before = QuoteSession(id, "rsa");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(JsonAt(before.body, "/result/is_valid"), "false");
  EXPECT_EQ(JsonAt(before.body, "/result/failures/0/type"), "identity.unknown_attester");

  HttpResponse r = Register(id, PythonAgentBody(EkRsa(), AkRsa()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/code"), "200");
  std::string blob = Blob(r);
  ASSERT_EQ(blob.size(), 336u);
  EXPECT_EQ(HexEncode(blob.substr(0, 8)), "badcc0de00000001");
  // Registered but not activated: not listed, not served, not trusted.
  EXPECT_TRUE(Listed().empty());
  EXPECT_EQ(admin_->Request("GET", "/v2.1/agents/" + id).status, 404);
  HttpResponse pending = QuoteSession(id, "rsa");
  EXPECT_EQ(JsonAt(pending.body, "/result/failures/0/type"), "identity.unknown_attester");

  // The blob names this AK: the TPM refuses it for another one.
  EXPECT_FALSE(ActivateOnTpm(*tpm_, kAkEccHandle, kEkRsaHandle, blob).has_value());
  auto secret = ActivateOnTpm(*tpm_, kAkRsaHandle, kEkRsaHandle, blob);
  ASSERT_TRUE(secret.has_value());
  ASSERT_EQ(secret->size(), 32u);
  for (char c : *secret) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  HttpResponse a = Activate(id, AuthTagFor(*secret, id));
  ASSERT_EQ(a.status, 200) << a.body;

  EXPECT_EQ(Listed(), std::vector<std::string>{id});
  HttpResponse one = admin_->Request("GET", "/v2.6/agents/" + id);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(JsonAt(one.body, "/results/aik_tpm"), Base64Encode(AkRsa()));
  EXPECT_EQ(JsonAt(one.body, "/results/ek_tpm"), Base64Encode(EkRsa()));
  EXPECT_EQ(JsonAt(one.body, "/results/ekcert"), "null");
  EXPECT_EQ(JsonAt(one.body, "/results/mtls_cert"), "disabled");
  EXPECT_EQ(JsonAt(one.body, "/results/ip"), "127.0.0.1");
  EXPECT_EQ(JsonAt(one.body, "/results/port"), "9002");
  EXPECT_EQ(JsonAt(one.body, "/results/regcount"), "1");
  EXPECT_FALSE(JsonAt(one.body, "/results/challenge_key").has_value());
  EXPECT_EQ(one.body.find(Base64Encode(*secret)), std::string::npos);

  // Activated: a fresh quote by that AK naming the agent appraises valid.
  HttpResponse after = QuoteSession(id, "rsa");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(JsonAt(after.body, "/result/is_valid"), "true") << after.body;
  // ... and a quote by another AK naming it does not.
  HttpResponse other = QuoteSession(id, "ecc");
  EXPECT_EQ(JsonAt(other.body, "/result/is_valid"), "false");

  // Activation is one-shot: the challenge key is gone.
  EXPECT_EQ(Activate(id, AuthTagFor(*secret, id)).status, 400);

  // DELETE removes it and its trust.
  EXPECT_EQ(admin_->Request("DELETE", "/v2.1/agents/" + id).status, 200);
  EXPECT_EQ(admin_->Request("DELETE", "/v2.1/agents/" + id).status, 404);
  EXPECT_TRUE(Listed().empty());
  HttpResponse gone = QuoteSession(id, "rsa");
  EXPECT_EQ(JsonAt(gone.body, "/result/failures/0/type"), "identity.unknown_attester");
}

TEST_P(RegistrarTest, EccEkRoundTripWithSwtpm) {
  ASSERT_TRUE(ecc_ek_ok_) << "tpm2_createek -G ecc failed";
  StartServer();
  const std::string id = "ecc-agent-1";
  HttpResponse r = Register(id, PythonAgentBody(EkEcc(), AkEcc()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Blob(r).size(), 148u);
  auto secret = ActivateOnTpm(*tpm_, kAkEccHandle, kEkEccHandle, Blob(r));
  ASSERT_TRUE(secret.has_value());
  EXPECT_EQ(Activate(id, AuthTagFor(*secret, id)).status, 200);
  EXPECT_EQ(Listed(), std::vector<std::string>{id});
  EXPECT_EQ(JsonAt(QuoteSession(id, "ecc").body, "/result/is_valid"), "true");
  // The RSA AK under the ECC EK, registered through the v3.0 body form.
  AgentBody v3 = PythonAgentBody(EkEcc(), AkRsa());
  v3.agent_id = "ecc-agent-2";
  HttpResponse r3 = agent_->Request("POST", "/v3.0/agents/", {}, v3.Json());
  ASSERT_EQ(r3.status, 200) << r3.body;
  auto secret3 = ActivateOnTpm(*tpm_, kAkRsaHandle, kEkEccHandle, Blob(r3));
  ASSERT_TRUE(secret3.has_value());
  // Keylime 3.0 removed the v2 forms under /v3: 404 there.
  const std::string tag = "{\"auth_tag\":\"" + AuthTagFor(*secret3, "ecc-agent-2") + "\"}";
  EXPECT_EQ(agent_->Request("PUT", "/v3.0/agents/ecc-agent-2", {}, tag).status, 404);
  EXPECT_EQ(agent_->Request("PUT", "/v3.0/agents/ecc-agent-2/activate", {}, tag).status, 404);
  EXPECT_EQ(agent_->Request("POST", "/v3.0/agents/ecc-agent-2", {}, v3.Json()).status, 404);
  // The Rust agent's form: PUT /agents/{id} (v2).
  EXPECT_EQ(agent_->Request("PUT", "/v2.6/agents/ecc-agent-2", {}, tag).status, 200);
  EXPECT_EQ(Listed(), (std::vector<std::string>{"ecc-agent-1", "ecc-agent-2"}));
}

TEST_P(RegistrarTest, WrongAuthTagDeletesTheRegistration) {
  StartServer();
  const std::string id = "wrong-tag-agent";
  HttpResponse r = Register(id, PythonAgentBody(EkRsa(), AkRsa()));
  ASSERT_EQ(r.status, 200);
  auto secret = ActivateOnTpm(*tpm_, kAkRsaHandle, kEkRsaHandle, Blob(r));
  ASSERT_TRUE(secret.has_value());
  std::string tag = AuthTagFor(*secret, id);
  tag[0] = tag[0] == '0' ? '1' : '0';
  HttpResponse a = Activate(id, tag);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(JsonAt(a.body, "/code"), "400");
  // Gone: the right tag now finds nothing.
  EXPECT_EQ(Activate(id, AuthTagFor(*secret, id)).status, 404);
  EXPECT_TRUE(Listed().empty());
  // And since nothing is left, another identity may take the id.
  EXPECT_EQ(Register(id, PythonAgentBody(EkEcc(), AkEcc())).status, 200);
}

TEST_P(RegistrarTest, ReRegistrationSameIdentityNewChallengeOtherIdentity403) {
  StartServer();
  const std::string id = "rereg-agent";
  RegisterAndActivate(id, PythonAgentBody(EkRsa(), AkRsa()), kAkRsaHandle, kEkRsaHandle);
  // Same identity: a new challenge; inactive until activated again.
  HttpResponse again = Register(id, PythonAgentBody(EkRsa(), AkRsa()));
  ASSERT_EQ(again.status, 200);
  EXPECT_TRUE(Listed().empty());
  auto secret = ActivateOnTpm(*tpm_, kAkRsaHandle, kEkRsaHandle, Blob(again));
  ASSERT_TRUE(secret.has_value());
  ASSERT_EQ(Activate(id, AuthTagFor(*secret, id)).status, 200);
  EXPECT_EQ(JsonAt(admin_->Request("GET", "/v2.1/agents/" + id).body, "/results/regcount"), "2");
  // Another AK, another EK: 403, and the registration is untouched.
  for (const AgentBody& other :
       {PythonAgentBody(EkRsa(), AkEcc()), PythonAgentBody(EkEcc(), AkRsa())}) {
    HttpResponse r = Register(id, other);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(JsonAt(r.body, "/code"), "403");
  }
  EXPECT_EQ(Listed(), std::vector<std::string>{id});
  EXPECT_EQ(JsonAt(QuoteSession(id, "rsa").body, "/result/is_valid"), "true");
}

TEST_P(RegistrarTest, BadInputIsRejectedAndLeavesNothingBehind) {
  StartServer();
  const std::string id = "bad-input-agent";
  std::string ak = AkRsa();
  std::string ek = EkRsa();
  std::vector<std::pair<std::string, std::string>> bodies;  // name, JSON
  auto with = [&](auto change) {
    AgentBody b = PythonAgentBody(ek, ak);
    change(b);
    return b.Json();
  };
  bodies.emplace_back("truncated AK",
                      with([&](AgentBody& b) { b.aik_tpm = ak.substr(0, ak.size() - 1); }));
  bodies.emplace_back("oversized AK",
                      with([&](AgentBody& b) { b.aik_tpm = ak + std::string("\0", 1); }));
  bodies.emplace_back("AK is a decrypt key (the EK)", with([&](AgentBody& b) { b.aik_tpm = ek; }));
  bodies.emplace_back("AK not restricted",
                      with([&](AgentBody& b) { b.aik_tpm = tpm_->AkPublic("unrestricted"); }));
  bodies.emplace_back("EK is a signing key", with([&](AgentBody& b) { b.ek_tpm = ak; }));
  bodies.emplace_back("truncated EK", with([&](AgentBody& b) { b.ek_tpm = ek.substr(0, 100); }));
  bodies.emplace_back("no EK at all", with([&](AgentBody& b) {
                        b.ek_tpm.reset();
                        b.ekcert = "emulator";
                      }));
  bodies.emplace_back("no AK", with([&](AgentBody& b) { b.aik_tpm.reset(); }));
  bodies.emplace_back("EK cert is garbage", with([&](AgentBody& b) {
                        b.ekcert = std::string("\x30\x03\x02\x01\x01", 5);
                      }));
  bodies.emplace_back("port out of range", with([&](AgentBody& b) { b.port = "70000"; }));
  bodies.emplace_back("port not a number", with([&](AgentBody& b) { b.port = "90a"; }));
  bodies.emplace_back("mtls_cert not a certificate",
                      with([&](AgentBody& b) { b.mtls_cert = "hello"; }));
  std::string good = PythonAgentBody(ek, ak).Json();
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos);
    return s.replace(at, from.size(), to);
  };
  bodies.emplace_back("aik_tpm a number", replace("\"aik_tpm\":\"", "\"aik_tpm\":5,\"x\":\""));
  bodies.emplace_back("ek_tpm an array", replace("\"ek_tpm\":\"", "\"ek_tpm\":[],\"x\":\""));
  bodies.emplace_back("ekcert an object", replace("\"ekcert\":\"emulator\"", "\"ekcert\":{}"));
  bodies.emplace_back("port a boolean", replace("\"port\":\"9002\"", "\"port\":true"));
  bodies.emplace_back("aik_tpm not base64", replace("\"aik_tpm\":\"", "\"aik_tpm\":\"!!"));
  bodies.emplace_back("not an object", "[1,2]");
  bodies.emplace_back("empty body", "");
  for (const auto& [name, body] : bodies) {
    HttpResponse r = agent_->Request("POST", "/v2.1/agents/" + id, {}, body);
    EXPECT_EQ(r.status, 400) << name << ": " << r.body;
    EXPECT_EQ(JsonAt(r.body, "/code"), "400") << name;
  }
  // Invalid agent ids.
  EXPECT_EQ(agent_->Request("POST", "/v2.1/agents/bad%7Bid", {}, good).status, 400);
  AgentBody mismatch = PythonAgentBody(ek, ak);
  mismatch.agent_id = "someone-else";
  EXPECT_EQ(Register(id, mismatch).status, 400);
  EXPECT_EQ(agent_->Request("POST", "/v2.1/agents", {}, good).status, 400);  // no agent_id anywhere
  // Activation: unknown agent 404, bad bodies 400.
  EXPECT_EQ(Activate("nobody", std::string(96, 'a')).status, 404);
  EXPECT_EQ(agent_->Request("PUT", "/v2.1/agents/nobody", {}, "{\"auth_tag\":5}").status, 400);
  EXPECT_EQ(agent_->Request("PUT", "/v2.1/agents/nobody", {}, "{}").status, 400);

  // Nothing was stored: a valid registration is the first (regcount 1), and
  // a different identity would have been refused had anything been left.
  RegisterAndActivate(id, PythonAgentBody(ek, ak), kAkRsaHandle, kEkRsaHandle);
  EXPECT_EQ(JsonAt(admin_->Request("GET", "/v2.1/agents/" + id).body, "/results/regcount"), "1");
  EXPECT_EQ(Listed(), std::vector<std::string>{id});
  if (redis_) {
    EXPECT_EQ(redis_->Cli("--scan --pattern attestd:registrar:*"),
              "attestd:registrar:{" + id + "}");
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, RegistrarTest, ::testing::Values("memory", "redis"));

// ---------------------------------------------------------------------------
// EK certificates made by swtpm_setup --create-ek-cert with its local CA.

// Two consecutive free loopback ports (swtpm server and control).
int FreePortPair() {
  for (int i = 0; i < 100; ++i) {
    int p = testing::FreePort();
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(p + 1));
    bool free = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    if (free && p < 65535) return p;
  }
  return 0;
}

class EkCertificateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string d = dir_->path();
    fs::create_directories(d + "/state");
    fs::create_directories(d + "/localca");
    WriteFile(d + "/localca.conf", "statedir = " + d + "/localca\nsigningkey = " + d +
                                       "/localca/signkey.pem\nissuercert = " + d +
                                       "/localca/issuercert.pem\ncertserial = " + d +
                                       "/localca/certserial\n");
    WriteFile(d + "/setup.conf",
              "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = " + d +
                  "/localca.conf\ncreate_certs_tool_options = /dev/null\n");
    std::string cmd = "swtpm_setup --tpm2 --tpmstate " + d + "/state --create-ek-cert --config " +
                      d + "/setup.conf --overwrite > " + d + "/setup.log 2>&1";
    if (std::system(cmd.c_str()) != 0) return;
    port_ = FreePortPair();
    pid_ = testing::Spawn(
        {"swtpm", "socket", "--tpm2", "--server",
         "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1", "--ctrl",
         "type=tcp,port=" + std::to_string(port_ + 1) + ",bindaddr=127.0.0.1", "--tpmstate",
         "dir=" + d + "/state", "--flags", "not-need-init,startup-clear"},
        d + "/swtpm.log");
    if (pid_ <= 0 || !testing::WaitForPort(port_, 5000)) return;
    ready_ =
        Tool("tpm2_nvread 0x01c00002 -o " + d + "/ek-rsa.der") &&
        Tool("tpm2_nvread 0x01c00016 -o " + d + "/ek-ecc384.der") &&
        Tool("tpm2_createek -c " + d + "/ek-rsa.ctx -G rsa -u " + d + "/ek-rsa.pub") &&
        Tool("tpm2_createek -c " + d + "/ek-ecc384.ctx -G ecc384 -u " + d + "/ek-ecc384.pub") &&
        Tool("tpm2_createak -C " + d + "/ek-rsa.ctx -c " + d +
             "/ak.ctx -G rsa -g sha256 -s rsassa -u " + d + "/ak.pub");
  }
  static void TearDownTestSuite() {
    if (pid_ > 0) testing::StopProcess(pid_);
    delete dir_;
  }

  // Runs a tpm2-tools command line against this swtpm, then flushes
  // transient objects (swtpm has no resource manager).
  static bool Tool(const std::string& command) {
    std::string env = "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=" + std::to_string(port_) + " ";
    bool ok = std::system((env + command + " >> " + dir_->path() + "/tools.log 2>&1").c_str()) == 0;
    std::system((env + "tpm2_flushcontext -t >/dev/null 2>&1").c_str());
    return ok;
  }
  static std::string File(const std::string& name) { return Slurp(dir_->path() + "/" + name); }

  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    ASSERT_TRUE(ready_) << "swtpm_setup / swtpm / tpm2-tools failed; see " << dir_->path();
  }

  static testing::TempDir* dir_;
  static int port_;
  static pid_t pid_;
  static bool ready_;
};

testing::TempDir* EkCertificateTest::dir_ = nullptr;
int EkCertificateTest::port_ = 0;
pid_t EkCertificateTest::pid_ = -1;
bool EkCertificateTest::ready_ = false;

TEST_F(EkCertificateTest, CertificateKeyGivesTheTpmsOwnEkPublic) {
  // The EK rebuilt from the certificate alone is byte for byte what the TPM
  // reports for its default-template EK (RSA 2048 low range, ECC P-384 high).
  auto rsa = tpm::EkTpm2bFromCertificate(File("ek-rsa.der"));
  ASSERT_TRUE(rsa.ok()) << rsa.status().ToString();
  EXPECT_EQ(HexEncode(*rsa), HexEncode(File("ek-rsa.pub")));
  auto ecc = tpm::EkTpm2bFromCertificate(File("ek-ecc384.der"));
  ASSERT_TRUE(ecc.ok()) << ecc.status().ToString();
  EXPECT_EQ(HexEncode(*ecc), HexEncode(File("ek-ecc384.pub")));
}

TEST_F(EkCertificateTest, ChainsToTheLocalCaAndNotToAnotherStore) {
  testing::TempDir good, other, empty;
  fs::copy_file(dir_->path() + "/localca/issuercert.pem", good.path() + "/issuer.pem");
  fs::copy_file(dir_->path() + "/localca/swtpm-localca-rootca-cert.pem", good.path() + "/root.pem");
  auto store = tpm::EkCertificateStore::LoadDirectory(good.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->Verify(File("ek-rsa.der")).ok())
      << (*store)->Verify(File("ek-rsa.der")).ToString();
  EXPECT_TRUE((*store)->Verify(File("ek-ecc384.der")).ok());
  // Only the issuer (an intermediate) is enough too.
  testing::TempDir issuer_only;
  fs::copy_file(dir_->path() + "/localca/issuercert.pem", issuer_only.path() + "/issuer.pem");
  EXPECT_TRUE((*tpm::EkCertificateStore::LoadDirectory(issuer_only.path()))
                  ->Verify(File("ek-rsa.der"))
                  .ok());
  // A store with an unrelated CA rejects it; an empty directory is no store.
  auto tls = EnsureTlsMaterial(other.path() + "/d", "x", {});
  ASSERT_TRUE(tls.ok());
  auto wrong =
      tpm::EkCertificateStore::LoadDirectory(fs::path(tls->ca_cert).parent_path().string());
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE((*wrong)->Verify(File("ek-rsa.der")).ok());
  EXPECT_FALSE(tpm::EkCertificateStore::LoadDirectory(empty.path()).ok());
}

TEST_F(EkCertificateTest, RegistrationWithCertificateOnlyAndCertStore) {
  testing::TempDir store_dir, data;
  fs::copy_file(dir_->path() + "/localca/issuercert.pem", store_dir.path() + "/issuer.pem");
  fs::copy_file(dir_->path() + "/localca/swtpm-localca-rootca-cert.pem",
                store_dir.path() + "/root.pem");
  Config config;
  config.listen = "127.0.0.1:0";
  config.registrar_listen = "127.0.0.1:0";
  config.registrar_admin_listen = "127.0.0.1:0";
  config.insecure_registrar = true;
  config.data_dir = data.path();
  config.log_level = "off";
  config.threads = 2;
  config.workers = 1;
  config.tpm_cert_store = store_dir.path();
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  HttpClient agent((*app)->registrar_port());

  // What the Python agent sends when its TPM has an EK certificate: no ek_tpm.
  AgentBody body;
  body.ekcert = File("ek-rsa.der");
  body.aik_tpm = File("ak.pub");
  const std::string id = "cert-agent";
  HttpResponse r = agent.Request("POST", "/v2.1/agents/" + id, {}, body.Json());
  ASSERT_EQ(r.status, 200) << r.body;
  std::string blob = Base64DecodeStd(JsonAt(r.body, "/results/blob").value_or("")).value_or("");
  // Activate on this TPM: the derived EK is the TPM's EK.
  WriteFile(dir_->path() + "/cert.blob", blob);
  std::string d = dir_->path();
  std::string env = "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=" + std::to_string(port_) + " ";
  std::string script = env + "bash -c 'set -e; tpm2_startauthsession --policy-session -S " + d +
                       "/s.ctx; tpm2_policysecret -S " + d +
                       "/s.ctx -c e; tpm2_activatecredential -c " + d + "/ak.ctx -C " + d +
                       "/ek-rsa.ctx -i " + d + "/cert.blob -o " + d +
                       "/cert.secret -P session:" + d + "/s.ctx; tpm2_flushcontext " + d +
                       "/s.ctx; tpm2_flushcontext -t' >> " + d + "/tools.log 2>&1";
  ASSERT_EQ(std::system(script.c_str()), 0) << "see " << d << "/tools.log";
  std::string secret = File("cert.secret");
  HttpResponse a = agent.Request("PUT", "/v2.1/agents/" + id + "/activate", {},
                                 "{\"auth_tag\":\"" + AuthTagFor(secret, id) + "\"}");
  EXPECT_EQ(a.status, 200) << a.body;

  // The certificate of another key than ek_tpm: 400.
  AgentBody mismatch;
  mismatch.ekcert = File("ek-ecc384.der");
  mismatch.ek_tpm = File("ek-rsa.pub");
  mismatch.aik_tpm = File("ak.pub");
  HttpResponse m = agent.Request("POST", "/v2.1/agents/mismatch-agent", {}, mismatch.Json());
  EXPECT_EQ(m.status, 400) << m.body;
  // With a cert store, a TPM without a certificate cannot register.
  AgentBody emulator;
  emulator.ekcert = "emulator";
  emulator.ek_tpm = File("ek-rsa.pub");
  emulator.aik_tpm = File("ak.pub");
  EXPECT_EQ(agent.Request("POST", "/v2.1/agents/emulator-agent", {}, emulator.Json()).status, 400);
  (*app)->Shutdown(std::chrono::milliseconds(1000));

  // A store whose CA did not issue the certificate refuses the registration.
  testing::TempDir other_store;
  auto tls = EnsureTlsMaterial(other_store.path() + "/d", "x", {});
  ASSERT_TRUE(tls.ok());
  config.tpm_cert_store = fs::path(tls->ca_cert).parent_path().string();
  auto app2 = Application::Create(config);
  ASSERT_TRUE(app2.ok()) << app2.status().ToString();
  ASSERT_TRUE((*app2)->Start().ok());
  HttpClient agent2((*app2)->registrar_port());
  HttpResponse refused = agent2.Request("POST", "/v2.1/agents/" + id, {}, body.Json());
  EXPECT_EQ(refused.status, 400) << refused.body;
  (*app2)->Shutdown(std::chrono::milliseconds(1000));
}

// ---------------------------------------------------------------------------
// The admin listener's TLS, as the Keylime tenant uses it (curl stands in).

struct CurlResult {
  int exit_code = -1;
  int status = 0;
  std::string body;
};

CurlResult Curl(const std::string& args) {
  CurlResult out;
  std::string cmd = "curl -s -S --max-time 5 -w '\\n%{http_code}' " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::string all;
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, p)) > 0) all.append(buf, n);
  int rc = ::pclose(p);
  out.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  size_t nl = all.rfind('\n');
  if (nl != std::string::npos) {
    out.status = std::atoi(all.c_str() + nl + 1);
    out.body = all.substr(0, nl);
  }
  return out;
}

TEST(RegistrarAdminTls, GeneratedCaClientCertificateRequiredAndReused) {
  SetLogLevel(LogLevel::kOff);
  testing::TempDir data;
  Config config;
  config.listen = "127.0.0.1:0";
  config.registrar_listen = "none";
  config.registrar_admin_listen = "127.0.0.1:0";
  config.data_dir = data.path() + "/data";
  config.log_level = "off";
  config.threads = 2;
  config.workers = 1;
  auto app = Application::Create(config);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  ASSERT_TRUE((*app)->Start().ok());
  EXPECT_EQ((*app)->registrar_port(), 0);
  const TlsMaterial tls = (*app)->registrar_tls();
  for (const std::string& f :
       {tls.ca_cert, tls.server_cert, tls.server_key, tls.client_cert, tls.client_key}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  std::string url =
      "https://127.0.0.1:" + std::to_string((*app)->registrar_admin_port()) + "/v2.1/agents/";
  CurlResult ok = Curl("--cacert " + tls.ca_cert + " --cert " + tls.client_cert + " --key " +
                       tls.client_key + " " + url);
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(JsonAt(ok.body, "/results/uuids"), "[]");
  // No client certificate: the handshake fails.
  CurlResult anonymous = Curl("--cacert " + tls.ca_cert + " " + url);
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE(anonymous.status, 200);
  // Plain HTTP to the TLS port gets nothing useful.
  HttpClient plain((*app)->registrar_admin_port());
  plain.set_timeout_ms(2000);
  EXPECT_NE(plain.Request("GET", "/v2.1/agents/").status, 200);
  std::string ca_before = Slurp(tls.ca_cert);
  std::string client_before = Slurp(tls.client_cert);
  (*app)->Shutdown(std::chrono::milliseconds(1000));

  // A second start reuses the same CA and client certificate.
  auto again = Application::Create(config);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp((*again)->registrar_tls().ca_cert), ca_before);
  EXPECT_EQ(Slurp((*again)->registrar_tls().client_cert), client_before);
}

}  // namespace
}  // namespace attestd
