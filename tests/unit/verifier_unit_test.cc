// The Keylime verifier's rules without sockets: tpm_policy validation,
// the JSON body helpers the verifier routes add, and proof-of-possession
// refusals on malformed input.
#include <gtest/gtest.h>

#include "api/keylime/keylime_api.h"
#include "server/agent_service.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/certify.h"

namespace attestd {
namespace {

const std::string k32(64, 'a');
const std::string k20(40, 'b');

TEST(VerifierRules, TpmPolicyValidation) {
  for (const std::string& ok : {std::string("{}"), std::string(R"({"mask":"0x0"})"),
                                R"({"0":[")" + k32 + R"("],"23":[")" + k32 + R"(","0x)" + k32 + R"("]})",
                                R"({"15":")" + k20 + R"(","mask":"408000"})"}) {
    EXPECT_TRUE(AgentService::ValidateTpmPolicy(ok).ok()) << ok;
  }
  for (const std::string& bad : {std::string("[]"), std::string("{"), std::string(R"({"24":["00"]})"),
                                 R"({"-1":[")" + k32 + R"("]})", R"({"01":[")" + k32 + R"("]})",
                                 R"({"x":[")" + k32 + R"("]})", std::string(R"({"15":["abcd"]})"),
                                 R"({"15":[")" + k32 + R"("],"16":[")" + k20 + R"("]})",
                                 std::string(R"({"15":[]})"), std::string(R"({"15":[1]})"),
                                 std::string(R"({"mask":"0xZZ"})"), std::string(R"({"mask":17})")}) {
    Status st = AgentService::ValidateTpmPolicy(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("tpm_policy"), std::string::npos) << bad << ": " << st.message();
  }
}

TEST(VerifierRules, Names) {
  EXPECT_TRUE(AgentService::ValidName("d432fbb3-d2f1-4a97.9ef7_75bd81c00000"));
  EXPECT_FALSE(AgentService::ValidName(""));
  EXPECT_FALSE(AgentService::ValidName("a{b}"));
  EXPECT_FALSE(AgentService::ValidName("a/b"));
  EXPECT_FALSE(AgentService::ValidName(std::string(256, 'a')));
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

}  // namespace
}  // namespace attestd
