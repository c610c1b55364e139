// LogAppraiser's cache and validation, and the agent evidence framing.
#include <gtest/gtest.h>

#include "common/base64.h"
#include "common/json_writer.h"
#include "service/keylime/agent_evidence.h"
#include "service/keylime/log_appraisal.h"
#include "store/memory/memory_agent_store.h"
#include "tests/support/boot_log.h"
#include "tests/support/ima_log.h"
#include "tests/support/processes.h"

namespace attestd {
namespace {

std::string Policy(const std::string& path) {
  return testing::ImaPolicyBuilder().Digest(path, std::string(32, 'a')).Json();
}

TEST(LogAppraiser, CompiledPoliciesAreCachedByIdentityAndBounded) {
  LogAppraiser logs(nullptr, 2);
  LogPolicies a, b, c;
  a.runtime_policy = Policy("/a");
  b.runtime_policy = Policy("/b");
  c.runtime_policy = Policy("/c");
  auto pa = logs.Compiled(a);
  ASSERT_TRUE(pa.ok());
  auto pa2 = logs.Compiled(a);
  ASSERT_TRUE(pa2.ok());
  EXPECT_EQ(pa->get(), pa2->get());  // one compiled copy
  ASSERT_TRUE(logs.Compiled(b).ok());
  ASSERT_TRUE(logs.Compiled(c).ok());
  EXPECT_EQ(logs.cached_policies(), 2u);  // the least recently used went
  auto pa3 = logs.Compiled(a);
  ASSERT_TRUE(pa3.ok());
  EXPECT_NE(pa->get(), pa3->get());
  // "No keys" said another way: the same identity; a key: another one.
  LogPolicies keyed = a;
  keyed.ima_keys = "[]";
  auto pk = logs.Compiled(keyed);
  ASSERT_TRUE(pk.ok());
  EXPECT_EQ(pk->get(), pa3->get());
  testing::TempDir dir;
  testing::ImaSigner signer(dir.path(), "rsa");
  ASSERT_TRUE(signer.ok());
  keyed.ima_keys = "[\"" + Base64Encode(signer.PublicDer()) + "\"]";
  pk = logs.Compiled(keyed);
  ASSERT_TRUE(pk.ok()) << pk.status().ToString();
  EXPECT_NE(pk->get(), pa3->get());
  EXPECT_EQ((*pk)->tenant_keys().size(), 1u);
}

TEST(LogAppraiser, BodiesByDigestAreReadOnlyOnAMiss) {
  auto store = std::make_shared<MemoryPolicyStore>();
  std::string b64 = Base64Encode(Policy("/x"));
  std::string digest = PolicyDigest(b64);
  ASSERT_EQ(digest.size(), 64u);
  LogAppraiser logs(store);
  LogPolicies ref;
  ref.runtime_policy_ref = digest;
  EXPECT_EQ(logs.Compiled(ref).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store->PutBody(digest, b64).ok());
  ASSERT_TRUE(store->PutBody(digest, "ignored: bodies are immutable").ok());
  EXPECT_EQ(*store->GetBody(digest), b64);
  ASSERT_TRUE(logs.Compiled(ref).ok());
  // Once compiled, the body is not read again.
  ASSERT_TRUE(store->PutBody(PolicyDigest("other"), "other").ok());
  EXPECT_TRUE(logs.Compiled(ref).ok());
}

TEST(LogAppraiser, ValidationNamesTheField) {
  LogAppraiser logs;
  LogPolicies p;
  p.runtime_policy = testing::ImaPolicyBuilder().DmPolicy("{}").Json();
  Status st = logs.ValidateRuntimePolicy(p);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("runtime_policy: "), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ima.dm_policy"), std::string::npos) << st.message();
  p.runtime_policy = Policy("/a");
  p.ima_keys = "[\"not a key\"]";
  st = logs.ValidateRuntimePolicy(p);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("ima_sign_verification_keys"), std::string::npos) << st.message();
  for (const char* none : {"[]", "null", "", "\"\""}) {
    p.ima_keys = none;
    EXPECT_TRUE(logs.ValidateRuntimePolicy(p).ok()) << none;
  }
  // What keylime_tenant --sign_verification_key sends: an IMA keyring,
  // as JSON text (and, from its database, encoded twice).
  testing::TempDir dir;
  testing::ImaSigner signer(dir.path(), "ec");
  ASSERT_TRUE(signer.ok());
  std::string keyring =
      "{\"keyids\": [1], \"pubkeys\": [\"" + Base64Encode(signer.PublicDer()) + "\"]}";
  p.ima_keys = keyring;
  EXPECT_TRUE(logs.ValidateRuntimePolicy(p).ok()) << logs.ValidateRuntimePolicy(p).message();
  JsonWriter twice;
  twice.String(keyring);
  p.ima_keys = twice.Take();
  EXPECT_TRUE(logs.ValidateRuntimePolicy(p).ok()) << logs.ValidateRuntimePolicy(p).message();
  p.ima_keys = "[\"" + Base64Encode(signer.PublicDer()) + "\", " + "\"" + "-----BEGIN x\"]";
  EXPECT_FALSE(logs.ValidateRuntimePolicy(p).ok());
  EXPECT_FALSE(LogAppraiser::ValidateKeys(p.ima_keys).ok());
  EXPECT_TRUE(LogAppraiser::ValidateKeys(keyring).ok());
  EXPECT_TRUE(LogAppraiser::ValidateKeys("[]").ok());
  EXPECT_FALSE(LogAppraiser::ValidateKeys("[\"" + Base64Encode("not DER") + "\"]").ok());
  // A legacy allowlist and exclude list.
  p.ima_keys.clear();
  p.runtime_policy = std::string(64, 'a') + "  /usr/bin/x\n";
  p.exclude_list = "/tmp/.*\n";
  EXPECT_TRUE(logs.ValidateRuntimePolicy(p).ok());
  st = LogAppraiser::ValidateMbPolicy("{\"has_secureboot\": true}");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("mb_policy: refstate.", 0), 0u) << st.message();
  std::string ref = testing::RefstateFor(testing::EventLogFile("event-moklisttrusted.bin"), false);
  EXPECT_TRUE(LogAppraiser::ValidateMbPolicy(ref).ok());
}

TEST(LogAppraiser, PolicyWithoutItsLogNeverPasses) {
  LogAppraiser logs;
  LogPolicies p;
  p.runtime_policy = Policy("/a");
  p.mb_policy = testing::RefstateFor(testing::EventLogFile("event-moklisttrusted.bin"), false);
  Appraisal a;
  a.is_valid = true;
  ASSERT_TRUE(logs.Appraise(a, p, AgentLogs{}, nullptr).ok());
  EXPECT_FALSE(a.is_valid);
  ASSERT_EQ(a.failures.size(), 2u);
  EXPECT_EQ(a.failures[0].type, "ima.missing_list");
  EXPECT_EQ(a.failures[1].type, "measured_boot.missing_log");
  EXPECT_EQ(a.trust.executables, 99);
}

TEST(AgentEvidence, RoundTripsAndRefusesAnythingElse) {
  AgentEvidence e;
  e.quote.agent_id = "agent-1";
  e.quote.attest = std::string("\xff\x54\x43\x47", 4);
  e.quote.signature = "sig";
  e.quote.pcrblob = "blob";
  e.quote.hash_alg = "sha256";
  e.logs.ima_list = "10 aa ima-ng sha256:bb /x\n";
  e.logs.ima_first_entry = 42;
  e.logs.boot_log = std::string("\0\1\2", 3);
  std::string bytes = EncodeAgentEvidence(e);
  auto back = ParseAgentEvidence(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->quote.agent_id, "agent-1");
  EXPECT_EQ(back->quote.attest, e.quote.attest);
  EXPECT_EQ(back->quote.hash_alg, "sha256");
  EXPECT_EQ(back->logs.ima_list, e.logs.ima_list);
  EXPECT_EQ(back->logs.ima_first_entry, 42u);
  EXPECT_EQ(back->logs.boot_log, e.logs.boot_log);
  // No logs: absent, not empty.
  AgentEvidence bare = e;
  bare.logs = AgentLogs{};
  auto b = ParseAgentEvidence(EncodeAgentEvidence(bare));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->logs.ima_list.has_value());
  EXPECT_FALSE(b->logs.boot_log.has_value());
  // Every truncation, trailing bytes, another magic: refused.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(ParseAgentEvidence(bytes.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(ParseAgentEvidence(bytes + "x").ok());
  EXPECT_FALSE(ParseAgentEvidence("KAE2" + bytes.substr(4)).ok());
}

}  // namespace
}  // namespace attestd
