// The Keylime verifier's rules without sockets: tpm_policy validation,
// the JSON body helpers the verifier routes add, and proof-of-possession
// refusals on malformed input.
#include <gtest/gtest.h>

#include "api/keylime/keylime_api.h"
#include "service/keylime/agent_service.h"
#include "service/keylime/keylime_rules.h"
#include "store/memory/memory_agent_store.h"
#include "store/memory/memory_attester_directory.h"
#include "store/memory/memory_registrar_store.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/certify.h"
#include "verifiers/tpm/pcr_policy.h"

namespace attestd {
namespace {

const std::string k32(64, 'a');
const std::string k20(40, 'b');

TEST(VerifierRules, TpmPolicyValidation) {
  for (const std::string& ok :
       {std::string("{}"), std::string(R"({"mask":"0x0"})"),
        R"({"0":[")" + k32 + R"("],"23":[")" + k32 + R"(","0x)" + k32 + R"("]})",
        R"({"15":")" + k20 + R"(","mask":"408000"})"}) {
    EXPECT_TRUE(tpm::ValidateTpmPolicy(ok).ok()) << ok;
  }
  for (const std::string& bad :
       {std::string("[]"), std::string("{"), std::string(R"({"24":["00"]})"),
        R"({"-1":[")" + k32 + R"("]})", R"({"01":[")" + k32 + R"("]})",
        R"({"x":[")" + k32 + R"("]})", std::string(R"({"15":["abcd"]})"),
        R"({"15":[")" + k32 + R"("],"16":[")" + k20 + R"("]})", std::string(R"({"15":[]})"),
        std::string(R"({"15":[1]})"), std::string(R"({"mask":"0xZZ"})"),
        std::string(R"({"mask":17})")}) {
    Status st = tpm::ValidateTpmPolicy(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("tpm_policy"), std::string::npos) << bad << ": " << st.message();
  }
}

TEST(VerifierRules, Names) {
  EXPECT_TRUE(keylime::ValidName("d432fbb3-d2f1-4a97.9ef7_75bd81c00000"));
  EXPECT_FALSE(keylime::ValidName(""));
  EXPECT_FALSE(keylime::ValidName("a{b}"));
  EXPECT_FALSE(keylime::ValidName("a/b"));
  EXPECT_FALSE(keylime::ValidName(std::string(256, 'a')));
}

TEST(VerifierRules, JsonBodyHelpers) {
  api::keylime::JsonBody body;
  ASSERT_TRUE(body.Parse(R"({"l":["a","b"],"n":[1],"s":"{\"x\": 1}","o":{"x": 1},"z":null})").ok());
  EXPECT_EQ(**body.OptionalStringList("l"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(body.OptionalStringList("n").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(body.OptionalStringList("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(body.OptionalStringList("z")->has_value());
  EXPECT_FALSE(body.OptionalStringList("missing")->has_value());
  EXPECT_EQ(**body.OptionalJsonText("s"), "{\"x\": 1}");  // a string's content, as sent
  EXPECT_EQ(**body.OptionalJsonText("o"), "{\"x\":1}");   // a value, minified
  EXPECT_FALSE(body.OptionalJsonText("z")->has_value());
  EXPECT_TRUE(body.Has("l"));
  EXPECT_FALSE(body.Has("z"));
  EXPECT_FALSE(body.Has("missing"));
}

TEST(VerifierRules, SelfCertifyRefusesMalformedInput) {
  std::string ak = testing::KeylimeVector(testing::kVectorB, "ak.pub");
  std::string attest = testing::KeylimeVector(testing::kVectorB, "quote.out");
  std::string sig = testing::KeylimeVector(testing::kVectorB, "quotesig.out");
  // A genuine signature over a quote: signed by the AK, but not a certify.
  Status st = tpm::VerifySelfCertify(ak, attest, sig, "challenge");
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(st.message().find("not a TPM2_Certify"), std::string::npos) << st.message();
  // Tampered message: the signature no longer verifies.
  st = tpm::VerifySelfCertify(ak, testing::FlipBit(attest, 40), sig, "challenge");
  EXPECT_NE(st.message().find("does not verify"), std::string::npos) << st.message();
  EXPECT_EQ(tpm::VerifySelfCertify("", attest, sig, "c").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(tpm::VerifySelfCertify(ak, attest, "", "c").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(tpm::VerifySelfCertify(ak, "", sig, "c").code(), StatusCode::kUnauthenticated);
}

// Trust in the attester directory: enrolment writes the AK and tpm_policy;
// deletion hands back to what the registrar alone vouches for.
TEST(VerifierRules, EnrolAndDeleteMoveTrust) {
  auto directory = std::make_shared<MemoryAttesterDirectory>();
  auto registrar = std::make_shared<MemoryRegistrarStore>();
  auto agents = std::make_shared<MemoryAgentStore>();
  auto policies = std::make_shared<PolicyService>(std::make_shared<MemoryPolicyStore>(), agents);
  AgentService service(agents, policies, directory, registrar);
  const std::string ak = testing::KeylimeVector(testing::kVectorB, "ak.pub");
  RegistrarAgent reg;
  reg.agent_id = "registered";
  reg.aik_tpm = ak;
  reg.challenge_key = "k";
  ASSERT_TRUE(registrar->Register(reg).ok());
  ASSERT_TRUE(registrar->Activate("registered", "k").ok());
  ASSERT_TRUE(directory->Put("registered", Attester{ak, "", true, std::nullopt}).ok());

  for (const std::string id : {"registered", "verifier-only"}) {
    VerifierAgent a;
    a.agent_id = id;
    a.ak_tpm = ak;
    a.tpm_policy = R"({"15":[")" + std::string(64, '0') + R"("]})";
    a.accept_tpm_hash_algs = {"sha256"};
    a.accept_tpm_encryption_algs = {"rsa"};
    a.accept_tpm_signing_algs = {"rsassa"};
    ASSERT_TRUE(service.Enrol(a).ok()) << id;
    auto trusted = directory->Get(id);
    ASSERT_TRUE(trusted.ok());
    EXPECT_TRUE(trusted->trusted);
    EXPECT_EQ(trusted->tpm_policy, a.tpm_policy);
    // A second enrolment is refused and leaves the first one's trust alone.
    VerifierAgent other = a;
    other.tpm_policy = "{}";
    EXPECT_EQ(service.Enrol(other).status().code(), StatusCode::kConflict);
    EXPECT_EQ(directory->Get(id)->tpm_policy, a.tpm_policy);
  }
  ASSERT_TRUE(service.Delete("registered").ok());
  auto back = directory->Get("registered");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->trusted);
  EXPECT_EQ(back->ak_tpm, ak);
  EXPECT_EQ(back->tpm_policy, "");
  ASSERT_TRUE(service.Delete("verifier-only").ok());
  EXPECT_EQ(directory->Get("verifier-only").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace attestd
