// Runtime (IMA) and measured-boot appraisal end to end, on both stores:
// real files measured into an IMA list whose PCR 10 a software TPM extends
// in step, real firmware event logs replayed into the same TPM's PCRs, real
// quotes; through the tenant's enrolment, verify/evidence, the push
// attestation flow and the pull entry (AppraiseAgentEvidence).
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "server/application.h"
#include "service/keylime/agent_evidence.h"
#include "tests/support/boot_log.h"
#include "tests/support/http_client.h"
#include "tests/support/ima_log.h"
#include "tests/support/json.h"
#include "tests/support/processes.h"
#include "tests/support/swtpm.h"
#include "verifiers/ima/ima_appraisal.h"
#include "verifiers/uefi/eventlog.h"

namespace attestd {
namespace {

using testing::HttpClient;
using testing::HttpResponse;
using testing::JsonAt;

// PCRs Keylime's example measured-boot policy reads, plus PCR 10.
constexpr char kBootPcrs[] = "sha256:0,1,2,3,4,5,6,7,8,9,10,14";
// The log replayed into the TPM: Secure Boot on, SHA-256 only.
constexpr char kBootLog[] = "event-moklisttrusted.bin";

std::string Sha256(const std::string& s) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), n);
}

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// A verifier enrolment as Keylime's tenant sends it.
struct Enrolment {
  std::string ak_tpm;
  std::string tpm_policy = "{\"mask\": \"0x0\"}";
  std::string runtime_policy;  // decoded; sent as base64
  std::string mb_policy;
  bool push = true;

  std::string Json() const {
    JsonWriter w;
    w.BeginObject().Key("v").Null();
    if (push) {
      w.Key("cloudagent_ip").Null().Key("cloudagent_port").Null();
    } else {
      w.Key("cloudagent_ip").String("127.0.0.1").Key("cloudagent_port").Int(9002);
    }
    w.Key("tpm_policy").String(tpm_policy);
    w.Key("runtime_policy").String(Base64Encode(runtime_policy));
    w.Key("runtime_policy_name").Null();
    w.Key("mb_policy");
    mb_policy.empty() ? w.Null() : w.String(mb_policy);
    w.Key("mb_policy_name").Null();
    w.Key("ima_sign_verification_keys").String("[]");
    w.Key("metadata").String("{}");
    w.Key("accept_tpm_hash_algs").BeginArray().String("sha256").EndArray();
    w.Key("accept_tpm_encryption_algs").BeginArray().String("rsa").EndArray();
    w.Key("accept_tpm_signing_algs").BeginArray().String("rsassa").EndArray();
    w.Key("ak_tpm").String(Base64Encode(ak_tpm));
    w.Key("supported_version").String("2.6");
    return w.EndObject().Take();
  }
};

class PolicyAppraisalTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kOff);
    tpm_ = std::make_unique<testing::Swtpm>();  // fresh PCRs for every test
    ASSERT_TRUE(tpm_->ok()) << "swtpm did not start";
    Config config;
    config.listen = "127.0.0.1:0";
    config.verifier_listen = "127.0.0.1:0";
    config.data_dir = data_.path() + "/data";
    config.threads = 2;
    config.workers = 1;
    config.log_level = "off";
    config.quote_interval_s = 1;
    config.verifier_mode = "push";  // the push test attests through /v3; nothing polls
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>();
      ASSERT_TRUE(redis_->ok());
      config.store = redis_->url();
    }
    auto app = Application::Create(config);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(*app);
    ASSERT_TRUE(app_->Start().ok());
    const TlsMaterial& tls = app_->verifier_tls();
    tenant_ = std::make_unique<HttpClient>(
        app_->verifier_port(),
        testing::TlsClientOptions{tls.ca_cert, tls.client_cert, tls.client_key});
    // The IMA list: boot_aggregate and three real files, PCR 10 extended
    // into the TPM in step.
    log_.SetExtendHook([this](const std::string& bank, const std::string& value) {
      extended_ &= tpm_->Extend(10, bank, HexEncode(value));
    });
    log_.BootAggregate();
    policy_.Digest("boot_aggregate", Sha256("boot"));
    for (const char* f : {"/bin/ls", "/bin/true", "/bin/cat"}) policy_.Digest(f, log_.AddFile(f));
  }

  void TearDown() override {
    tenant_.reset();
    if (app_) app_->Shutdown(std::chrono::milliseconds(2000));
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    return tenant_->Request(method, target, {}, body);
  }

  // POST /verify/evidence for a fresh quote of `pcrs`, with `extra` members.
  HttpResponse VerifyEvidence(const std::string& pcrs,
                              const std::vector<std::pair<std::string, std::string>>& extra) {
    auto q = tpm_->Quote("rsa", "verify-nonce", pcrs);
    EXPECT_TRUE(q.has_value());
    JsonWriter w;
    w.BeginObject().Key("type").String("tpm").Key("data").BeginObject();
    w.Key("quote").String(q ? q->quote : "").Key("nonce").String("verify-nonce");
    w.Key("hash_alg").String("sha256").Key("tpm_ek").String("");
    w.Key("tpm_ak").String(Base64Encode(tpm_->AkPublic("rsa")));
    for (const auto& [k, v] : extra) w.Key(k).String(v);
    return Call("POST", "/v2.6/verify/evidence", w.EndObject().EndObject().Take());
  }

  static std::vector<std::string> FailureTypes(const std::string& body, const std::string& at) {
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
      auto t = JsonAt(body, at + "/" + std::to_string(i) + "/type");
      if (!t) return out;
      out.push_back(*t);
    }
  }

  // The pull entry: a quote over `nonce` of PCR 10 (and `more`) with the
  // list from entry `first` on.
  Appraisal Pull(const std::string& id, const std::string& nonce, uint64_t first = 0,
                 const std::string& pcrs = "sha256:10") {
    auto q = tpm_->Quote("rsa", nonce, pcrs);
    EXPECT_TRUE(q.has_value());
    AgentEvidence ev;
    ev.quote.agent_id = id;
    ev.quote.keylime_quote = q ? q->quote : "";
    ev.quote.hash_alg = "sha256";
    ev.logs.ima_list = log_.text().substr(first == 0 ? 0 : log_.Offset(first));
    ev.logs.ima_first_entry = first;
    auto a = AppraiseAgentEvidence(app_->registry(), ev, nonce);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? *a : Appraisal{};
  }

  ima::ImaState StoredState(const std::string& id) {
    auto agent = app_->keylime().agents->Get(id);
    EXPECT_TRUE(agent.ok());
    if (!agent.ok() || agent->ima_state.empty()) return {};
    auto s = ima::ParseImaState(agent->ima_state);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : ima::ImaState{};
  }

  static std::vector<std::string> Types(const Appraisal& a) {
    std::vector<std::string> t;
    for (const Failure& f : a.failures) t.push_back(f.type);
    return t;
  }

  testing::TempDir data_;
  std::unique_ptr<testing::Swtpm> tpm_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<Application> app_;
  std::unique_ptr<HttpClient> tenant_;
  testing::ImaLogBuilder log_;
  testing::ImaPolicyBuilder policy_;
  bool extended_ = true;
};

TEST_P(PolicyAppraisalTest, EnrolmentRefusesPoliciesAttestdCannotEvaluate) {
  Enrolment e;
  e.ak_tpm = tpm_->AkPublic("rsa");
  e.runtime_policy = testing::ImaPolicyBuilder(policy_).DmPolicy("{\"rules\": []}").Json();
  HttpResponse r = Call("POST", "/v2.6/agents/a1", e.Json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("ima.dm_policy"), std::string::npos) << r.body;
  // A regex RE2 cannot compile.
  e.runtime_policy = testing::ImaPolicyBuilder(policy_).Exclude("(?=x)").Json();
  r = Call("POST", "/v2.6/agents/a1", e.Json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("excludes"), std::string::npos) << r.body;
  // A refstate the example policy cannot read names its field.
  e.runtime_policy.clear();
  std::string ref = testing::RefstateFor(testing::EventLogFile(kBootLog), false);
  ASSERT_FALSE(ref.empty());
  e.mb_policy = Replace(ref, "\"kernels\":", "\"kernels_\":");
  r = Call("POST", "/v2.6/agents/a1", e.Json());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("refstate.kernels"), std::string::npos) << r.body;
  EXPECT_EQ(Call("GET", "/v2.6/agents/a1").status, 404);
  // Named policies are checked the same way.
  JsonWriter w;
  w.BeginObject()
      .Key("runtime_policy")
      .String(Base64Encode(testing::ImaPolicyBuilder(policy_).DmPolicy("{}").Json()));
  r = Call("POST", "/v2.6/allowlists/p1", w.EndObject().Take());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("ima.dm_policy"), std::string::npos) << r.body;
  JsonWriter m;
  m.BeginObject().Key("mb_policy").String(e.mb_policy);
  r = Call("POST", "/v2.6/mbpolicies/m1", m.EndObject().Take());
  EXPECT_EQ(r.status, 400) << r.body;
  // The good ones enrol: a runtime policy, a legacy allowlist, a refstate.
  e.mb_policy = ref;
  e.runtime_policy = policy_.Json();
  EXPECT_EQ(Call("POST", "/v2.6/agents/a1", e.Json()).status, 200);
  e.mb_policy.clear();
  e.runtime_policy = HexEncode(Sha256("x")) + " /usr/bin/x\n";
  EXPECT_EQ(Call("POST", "/v2.6/agents/a2", e.Json()).status, 200);
}

TEST_P(PolicyAppraisalTest, VerifyEvidenceAppraisesTheImaList) {
  ASSERT_TRUE(extended_);
  HttpResponse r = VerifyEvidence(
      "sha256:10", {{"runtime_policy", policy_.Json()}, {"ima_measurement_list", log_.text()}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "true") << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/claims/ima/quoted_entries"), "4");
  EXPECT_EQ(JsonAt(r.body, "/results/claims/ima/files_measured"), "3");

  // A file whose digest the policy does not list; a signature by an
  // unknown key; PCR 10 extended by both, so the list still replays.
  std::string unlisted = WriteFile(data_.path() + "/unlisted.sh", "echo unlisted\n");
  log_.AddFile(unlisted);
  testing::ImaSigner known(data_.path(), "rsa"), unknown(data_.path(), "ec");
  ASSERT_TRUE(known.ok() && unknown.ok());
  log_.AddSignedFile("/bin/true", known.Sign("/bin/true"), "sha256", "/opt/signed");
  log_.AddSignedFile("/bin/cat", unknown.Sign("/bin/cat"), "sha256", "/opt/unknown-signer");
  ASSERT_TRUE(extended_);
  policy_.VerificationKey(known.PublicDer());
  r = VerifyEvidence("sha256:10",
                     {{"runtime_policy", policy_.Json()}, {"ima_measurement_list", log_.text()}});
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false") << r.body;
  EXPECT_EQ(FailureTypes(r.body, "/results/failures"),
            (std::vector<std::string>{"ima.validation.ima-ng.not_in_allowlist",
                                      "ima.validator.ima-sig.invalid_signature"}))
      << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/failures/0/context/path"), unlisted);
  EXPECT_EQ(JsonAt(r.body, "/results/failures/1/context/path"), "/opt/unknown-signer");
  EXPECT_EQ(JsonAt(r.body, "/results/claims/ima/signatures_verified"), "1");

  // One byte of the list changed: no prefix replays to PCR 10.
  std::string flipped = log_.text();
  flipped[log_.Offset(2) + 50] ^= 1;
  r = VerifyEvidence("sha256:10",
                     {{"runtime_policy", policy_.Json()}, {"ima_measurement_list", flipped}});
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false");
  std::vector<std::string> types = FailureTypes(r.body, "/results/failures");
  EXPECT_NE(std::find(types.begin(), types.end(), "ima.pcr_mismatch"), types.end()) << r.body;

  // A runtime policy without PCR 10 in the quote never passes.
  r = VerifyEvidence("sha256:0",
                     {{"runtime_policy", policy_.Json()}, {"ima_measurement_list", log_.text()}});
  EXPECT_EQ(FailureTypes(r.body, "/results/failures"),
            std::vector<std::string>{"ima.pcr_not_quoted"});
  // A policy with ima.dm_policy: 400.
  r = VerifyEvidence("sha256:10",
                     {{"runtime_policy", testing::ImaPolicyBuilder().DmPolicy("{}").Json()},
                      {"ima_measurement_list", log_.text()}});
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_P(PolicyAppraisalTest, VerifyEvidenceAppraisesTheBootLog) {
  std::string boot = testing::EventLogFile(kBootLog);
  ASSERT_TRUE(testing::ExtendLogIntoTpm(*tpm_, boot, "sha256"));
  std::string ref = testing::RefstateFor(boot, false);
  ASSERT_FALSE(ref.empty());
  HttpResponse r = VerifyEvidence(kBootPcrs, {{"mb_policy", ref}, {"mb_log", Base64Encode(boot)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "true") << r.body;
  EXPECT_EQ(JsonAt(r.body, "/results/claims/measured_boot/secure_boot"), "true");
  EXPECT_TRUE(JsonAt(r.body, "/results/claims/measured_boot/boot_applications/0").has_value());

  // The refstate allows another kernel command line.
  std::string other_cmdline =
      Replace(ref, "\"kernel_cmdline\":\"", "\"kernel_cmdline\":\"quiet-other ");
  r = VerifyEvidence(kBootPcrs, {{"mb_policy", other_cmdline}, {"mb_log", Base64Encode(boot)}});
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false");
  EXPECT_EQ(FailureTypes(r.body, "/results/failures"),
            std::vector<std::string>{"measured_boot.kernel_cmdline"})
      << r.body;
  // Another machine's refstate.
  std::string foreign = testing::RefstateFor(testing::EventLogFile("event-bootorder.bin"), true);
  ASSERT_FALSE(foreign.empty());
  r = VerifyEvidence(kBootPcrs, {{"mb_policy", foreign}, {"mb_log", Base64Encode(boot)}});
  EXPECT_EQ(JsonAt(r.body, "/results/valid"), "false");
  EXPECT_FALSE(FailureTypes(r.body, "/results/failures").empty());
  for (const std::string& t : FailureTypes(r.body, "/results/failures")) {
    EXPECT_EQ(t.rfind("measured_boot.", 0), 0u) << t;
  }
  // Another machine's log: the replay does not match the quote.
  std::string arch = testing::EventLogFile("event-arch-linux.bin");
  r = VerifyEvidence(kBootPcrs, {{"mb_policy", ref}, {"mb_log", Base64Encode(arch)}});
  std::vector<std::string> types = FailureTypes(r.body, "/results/failures");
  EXPECT_NE(std::find(types.begin(), types.end(), "measured_boot.pcr_mismatch"), types.end())
      << r.body;
  // One event's data flipped (the db variable): its digest no longer is
  // the hash of its data, and db no longer matches the refstate.
  auto parsed = uefi::ParseEventLog(boot);
  ASSERT_TRUE(parsed.ok());
  std::string flipped = boot;
  const uefi::Event& db = parsed->events[7];
  ASSERT_EQ(db.type, 0x80000001u);  // EV_EFI_VARIABLE_DRIVER_CONFIG
  flipped[static_cast<size_t>(db.data.data() - boot.data()) + 200] ^= 1;
  r = VerifyEvidence(kBootPcrs, {{"mb_policy", ref}, {"mb_log", Base64Encode(flipped)}});
  types = FailureTypes(r.body, "/results/failures");
  EXPECT_NE(std::find(types.begin(), types.end(), "measured_boot.digest_mismatch"), types.end())
      << r.body;
  // One event dropped (the last one): the replay no longer reaches the quote.
  const uefi::Event& last = parsed->events.back();
  std::string dropped = boot.substr(0, last.offset);
  r = VerifyEvidence(kBootPcrs, {{"mb_policy", ref}, {"mb_log", Base64Encode(dropped)}});
  types = FailureTypes(r.body, "/results/failures");
  EXPECT_NE(std::find(types.begin(), types.end(), "measured_boot.pcr_mismatch"), types.end())
      << r.body;
  // A policy and no log.
  r = VerifyEvidence(kBootPcrs, {{"mb_policy", ref}});
  EXPECT_EQ(FailureTypes(r.body, "/results/failures"),
            std::vector<std::string>{"measured_boot.missing_log"});
}

TEST_P(PolicyAppraisalTest, PullAppraisalIsIncrementalAndSurvivesAReboot) {
  ASSERT_TRUE(extended_);
  Enrolment e;
  e.ak_tpm = tpm_->AkPublic("rsa");
  e.runtime_policy = policy_.Json();
  e.push = false;
  ASSERT_EQ(Call("POST", "/v2.6/agents/pull-1", e.Json()).status, 200);

  Appraisal a = Pull("pull-1", "nonce-1");
  EXPECT_TRUE(a.is_valid) << ::testing::PrintToString(Types(a));
  EXPECT_EQ(StoredState("pull-1").next_entry, 4u);
  EXPECT_EQ(a.trust.executables, 2);

  // Two more listed files; the whole list again: only they are appraised.
  for (const char* f : {"/bin/ls", "/bin/true"}) log_.AddFile(f);
  a = Pull("pull-1", "nonce-2");
  EXPECT_TRUE(a.is_valid) << ::testing::PrintToString(Types(a));
  const Value* ima = a.claims.Find("ima");
  ASSERT_NE(ima, nullptr);
  EXPECT_EQ(ima->Find("entries_skipped")->as_uint(), 4u);
  EXPECT_EQ(ima->Find("entries_appraised")->as_uint(), 2u);
  EXPECT_EQ(StoredState("pull-1").next_entry, 6u);

  // Keylime's ima_ml_entry: only the new entries travel.
  log_.AddFile("/bin/cat");
  a = Pull("pull-1", "nonce-3", 6);
  EXPECT_TRUE(a.is_valid) << ::testing::PrintToString(Types(a));
  EXPECT_EQ(StoredState("pull-1").next_entry, 7u);

  // An unlisted binary runs: the agent fails, naming it.
  std::string unlisted = WriteFile(data_.path() + "/evil.sh", "echo evil\n");
  log_.AddFile(unlisted);
  a = Pull("pull-1", "nonce-4", 7);
  EXPECT_FALSE(a.is_valid);
  ASSERT_EQ(Types(a), std::vector<std::string>{"ima.validation.ima-ng.not_in_allowlist"});
  EXPECT_EQ(a.failures[0].context.StringAt("path"), unlisted);
  EXPECT_EQ(StoredState("pull-1").next_entry, 0u);  // a failure starts over

  // A reboot: PCRs reset, the list starts again.
  ASSERT_TRUE(tpm_->Restart());
  testing::ImaLogBuilder fresh;
  fresh.SetExtendHook([this](const std::string& bank, const std::string& value) {
    extended_ &= tpm_->Extend(10, bank, HexEncode(value));
  });
  fresh.BootAggregate();
  fresh.AddFile("/bin/ls");
  ASSERT_TRUE(extended_);
  log_ = fresh;
  a = Pull("pull-1", "nonce-5");
  EXPECT_TRUE(a.is_valid) << ::testing::PrintToString(Types(a));
  EXPECT_EQ(StoredState("pull-1").next_entry, 2u);
}

TEST_P(PolicyAppraisalTest, PushAttestationAppraisesImaAndBootLogs) {
  std::string boot = testing::EventLogFile(kBootLog);
  ASSERT_TRUE(testing::ExtendLogIntoTpm(*tpm_, boot, "sha256"));
  ASSERT_TRUE(extended_);
  Enrolment e;
  e.ak_tpm = tpm_->AkPublic("rsa");
  e.runtime_policy = policy_.Json();
  e.mb_policy = testing::RefstateFor(boot, false);
  ASSERT_EQ(Call("POST", "/v2.6/agents/push-1", e.Json()).status, 200);
  AttestationService& attestations = *app_->keylime().attestations;

  auto attest = [&](const std::optional<std::string>& ima_log) {
    TpmCapabilities caps;
    caps.component_version = "2.0";
    caps.signature_schemes = {"rsassa"};
    caps.hash_algorithms = {"sha256"};
    for (int i = 0; i < 24; ++i) caps.available_subjects["sha256"].push_back(i);
    CertificationKey key;
    key.key_algorithm = "rsa";
    key.public_tpm2b = e.ak_tpm;
    caps.certification_keys = {key};
    int64_t retry = 0;
    auto begun = attestations.Begin("push-1", caps, &retry);
    for (int i = 0; !begun.ok() && retry > 0 && i < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::seconds(retry));
      begun = attestations.Begin("push-1", caps, &retry);
    }
    EXPECT_TRUE(begun.ok()) << begun.status().ToString();
    if (!begun.ok()) return PushAttestation{};
    // Keylime's rule: the runtime and measured-boot policies' PCRs are quoted.
    EXPECT_EQ(begun->selected_pcrs, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14}));
    std::string challenge = Base64DecodeStd(begun->challenge).value_or("");
    auto q = tpm_->Quote("rsa", challenge, kBootPcrs, "sha256", "rsassa");
    EXPECT_TRUE(q.has_value());
    QuoteSubmission s;
    s.message = q->attest;
    s.signature = q->signature;
    s.subject_data = q->pcrblob;
    s.ima_log = ima_log;
    s.uefi_log = boot;
    auto submitted = attestations.Submit("push-1", std::nullopt, s);
    EXPECT_TRUE(submitted.ok()) << submitted.status().ToString();
    for (int i = 0; i < 250; ++i) {
      auto got = attestations.Get("push-1", std::nullopt);
      if (got.ok() && got->stage == "verification_complete") return *got;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "no verdict";
    return PushAttestation{};
  };

  PushAttestation p = attest(log_.text());
  EXPECT_EQ(p.evaluation, "pass") << p.failure_reason;
  EXPECT_EQ(StoredState("push-1").next_entry, 4u);

  // Incremental: the next attestation appraises the new entry only, and
  // it is not in the policy.
  std::string unlisted = WriteFile(data_.path() + "/unlisted", "#!/bin/sh\n");
  log_.AddFile(unlisted);
  p = attest(log_.text());
  EXPECT_EQ(p.evaluation, "fail");
  EXPECT_EQ(p.failure_reason, "ima.validation.ima-ng.not_in_allowlist");
  auto agent = app_->keylime().agents->Get("push-1");
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->attestation_status, "FAIL");
  EXPECT_EQ(agent->last_event_id, "ima.validation.ima-ng.not_in_allowlist");

  // No IMA list at all: never a pass.
  p = attest(std::nullopt);
  EXPECT_EQ(p.evaluation, "fail");
  EXPECT_EQ(p.failure_reason, "ima.missing_list");
}

TEST_P(PolicyAppraisalTest, OneStoredAndCompiledCopyForManyAgents) {
  ASSERT_TRUE(extended_);
  Enrolment e;
  e.ak_tpm = tpm_->AkPublic("rsa");
  e.runtime_policy = policy_.Json();
  e.push = false;
  const std::string b64 = Base64Encode(e.runtime_policy);
  const std::string digest = PolicyDigest(b64);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Call("POST", "/v2.6/agents/many-" + std::to_string(i), e.Json()).status, 200);
    auto agent = app_->keylime().agents->Get("many-" + std::to_string(i));
    ASSERT_TRUE(agent.ok());
    // The record holds a reference, not a copy.
    EXPECT_EQ(agent->runtime_policy, kPolicyRefPrefix + digest);
  }
  auto body = app_->stores().policies->GetBody(digest);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(*body, b64);
  EXPECT_EQ(JsonAt(Call("GET", "/v2.6/agents/many-3").body, "/results/has_runtime_policy"), "1");
  // Compiled once (at the first enrolment); every agent's appraisal uses it.
  EXPECT_EQ(app_->keylime().logs->cached_policies(), 1u);
  EXPECT_TRUE(Pull("many-0", "n0").is_valid);
  EXPECT_TRUE(Pull("many-1", "n1").is_valid);
  EXPECT_EQ(app_->keylime().logs->cached_policies(), 1u);
  // By name: the named policy's body is stored by digest as well, and an
  // agent enrolled by name refers to it without a copy.
  JsonWriter named;
  named.BeginObject().Key("runtime_policy").String(b64);
  ASSERT_EQ(Call("POST", "/v2.6/allowlists/shared", named.EndObject().Take()).status, 201);
  Enrolment by_name = e;
  by_name.runtime_policy.clear();
  std::string enrol = by_name.Json();
  enrol.replace(enrol.find("\"runtime_policy_name\":null"), 26,
                "\"runtime_policy_name\":\"shared\"");
  ASSERT_EQ(Call("POST", "/v2.6/agents/by-name", enrol).status, 200);
  auto agent = app_->keylime().agents->Get("by-name");
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(agent->runtime_policy, kPolicyRefPrefix + digest);
  EXPECT_EQ(agent->runtime_policy_name, "shared");
  EXPECT_TRUE(Pull("by-name", "n2").is_valid);
  EXPECT_EQ(app_->keylime().logs->cached_policies(), 1u);
  // A new version of the named policy applies from the next attestation:
  // one without /bin/cat fails the next entry for it.
  testing::ImaPolicyBuilder without_cat;
  without_cat.Digest("boot_aggregate", Sha256("boot"));
  for (const char* f : {"/bin/ls", "/bin/true"}) without_cat.Digest(f, testing::FileDigest(f));
  JsonWriter v2;
  v2.BeginObject().Key("runtime_policy").String(Base64Encode(without_cat.Json()));
  ASSERT_EQ(Call("PUT", "/v2.6/allowlists/shared", v2.EndObject().Take()).status, 201);
  log_.AddFile("/bin/cat");
  ASSERT_TRUE(extended_);
  Appraisal after = Pull("by-name", "n3");
  EXPECT_EQ(Types(after), std::vector<std::string>{"ima.validation.ima-ng.not_in_allowlist"});
  EXPECT_EQ(app_->keylime().logs->cached_policies(), 2u);
  // Another process (an empty cache) reads the body by its digest.
  LogAppraiser fresh(app_->stores().policies);
  LogPolicies ref;
  ref.runtime_policy_ref = digest;
  auto compiled = fresh.Compiled(ref);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  EXPECT_EQ((*compiled)->table(ima::DigestTable::kDigests).names(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Stores, PolicyAppraisalTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attestd
