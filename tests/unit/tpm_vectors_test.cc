// The TPM quote verifier against Keylime's public vectors (tests/data/keylime):
// A and B valid, the five negative mutations of A, C parse-only, and the
// EnactTrust form rebuilt from B.
#include <gtest/gtest.h>

#include "common/base64.h"
#include "store/memory/memory_attester_directory.h"
#include "tests/support/json.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcrblob.h"
#include "verifiers/tpm/quote_verifier.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {
namespace {

using testing::AppraisalJson;
using testing::ClaimsJson;
using testing::ContextJson;

using testing::FailureTypes;
using testing::FlipBit;
using testing::JsonAt;
using testing::KeylimeVector;
using testing::kVectorA;
using testing::kVectorB;
using testing::kVectorC;
using testing::QuoteJson;
using tpm::kEnactTrustType;
using tpm::kTpmQuoteJsonType;

constexpr char kAgent[] = "d432fbb3-d2f1-4a97-9ef7-75bd81c00000";
const std::string kZero(64, '0');
const std::string kOnes(64, 'f');

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class VectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_shared<MemoryAttesterDirectory>();
    verifier_ = std::make_unique<tpm::TpmQuoteVerifier>(dir_);
  }

  // Vector A ships its AK as PEM only: wrap it in the TPM2B_PUBLIC a
  // registrar would hold (RSASSA/SHA-256, Keylime's AK attributes).
  std::string AkA() {
    auto ak = tpm::Tpm2bPublicFromPem(KeylimeVector(kVectorA, "ak_pub.pem"),
                                      tpm::kAkRequiredAttributes, TPM2_ALG_RSASSA, TPM2_ALG_SHA256);
    EXPECT_TRUE(ak.ok()) << ak.status().ToString();
    return ak.ok() ? *ak : "";
  }

  void Enrol(const std::string& ak, const std::string& policy = "", bool trusted = true,
             const std::string& agent = kAgent) {
    Attester a;
    a.ak_tpm = ak;
    a.tpm_policy = policy;
    a.trusted = trusted;
    ASSERT_TRUE(dir_->Put(agent, a).ok());
  }

  Appraisal Appraise(const std::string& evidence, const std::string& nonce,
                     const std::string& type = kTpmQuoteJsonType) {
    auto r = verifier_->Appraise(evidence, type, nonce);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return Appraisal{};
    // The serialized form must always be valid JSON.
    EXPECT_TRUE(testing::IsValidJson(AppraisalJson(*r)));
    return *r;
  }

  std::string AttestA() { return KeylimeVector(kVectorA, "quote_attest.bin"); }
  std::string SigA() { return KeylimeVector(kVectorA, "quote_signature.bin"); }
  std::string PcrsA() { return KeylimeVector(kVectorA, "quote_pcrblob.bin"); }
  std::string NonceA() { return KeylimeVector(kVectorA, "nonce.bin"); }
  std::string QuoteA(const std::string& attest, const std::string& sig, const std::string& pcrs,
                     std::optional<std::string> hash = "sha256") {
    return QuoteJson(kAgent, testing::KeylimeQuoteString(attest, sig, pcrs), hash);
  }

  std::string AttestB() { return KeylimeVector(kVectorB, "quote.out"); }
  std::string SigB() { return KeylimeVector(kVectorB, "quotesig.out"); }
  std::string PcrsB() { return KeylimeVector(kVectorB, "quotepcr.out"); }
  std::string NonceB() { return KeylimeVector(kVectorB, "rand.out"); }
  std::string QuoteB() {
    return QuoteJson(kAgent, TrimNewline(KeylimeVector(kVectorB, "keylime_quote_string.txt")),
                     "sha256");
  }

  std::shared_ptr<MemoryAttesterDirectory> dir_;
  std::unique_ptr<tpm::TpmQuoteVerifier> verifier_;
};

TEST_F(VectorTest, VectorAIsValid) {
  Enrol(AkA());
  std::string quote = TrimNewline(KeylimeVector(kVectorA, "keylime_quote_string.txt"));
  ASSERT_EQ(quote, testing::KeylimeQuoteString(AttestA(), SigA(), PcrsA()));
  Appraisal a = Appraise(QuoteJson(kAgent, quote, "sha256"), NonceA());
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_TRUE(a.failures.empty());
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcrs/sha256/16"),
            "d471c0674951f0ef075aecdd42fbefa6eca6019820add0bd222d1c4e6242ce6f");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcr_digest"),
            "6d4d3749132f6257172164cd5ff3135f447973d4a5c84e018901f6753705b701");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/clock_info/clock"), "1284787942");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/clock_info/reset_count"), "3");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/clock_info/safe"), "true");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/hash_alg"), "sha256");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/sign_alg"), "rsassa");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/agent_id"), kAgent);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/reference_values"), "none");
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.trust.executables, 0);
  EXPECT_EQ(WorstStatus(a.trust), EarStatus::kAffirming);
}

TEST_F(VectorTest, VectorAWithoutHashAlgAndInSplitFormIsValid) {
  Enrol(AkA());
  EXPECT_TRUE(Appraise(QuoteA(AttestA(), SigA(), PcrsA(), std::nullopt), NonceA()).is_valid);
  // The same quote again replays the clock: the baseline moved.
  SetUp();
  Enrol(AkA());
  Appraisal a = Appraise(testing::SplitQuoteJson(kAgent, AttestA(), SigA(), PcrsA()), NonceA());
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
}

// Mutation 1 (Keylime: InvalidSignature): bit 0 of TPMS_ATTEST byte 5 turns
// the type into TPM_ST_ATTEST_TIME; the structure check says so, and the
// signature check, which needs only the raw bytes, says it was tampered with.
TEST_F(VectorTest, VectorAFlippedQuoteByteIsSignatureFailure) {
  Enrol(AkA());
  Appraisal a = Appraise(QuoteA(FlipBit(AttestA(), 5), SigA(), PcrsA()), NonceA());
  EXPECT_FALSE(a.is_valid);
  EXPECT_EQ(FailureTypes(a),
            (std::vector<std::string>{"quote_validation.structure", "quote_validation.signature"}));
  EXPECT_EQ(a.trust.hardware, 99);
  EXPECT_EQ(WorstStatus(a.trust), EarStatus::kContraindicated);
  // Flipping a byte that keeps the structure valid (in clockInfo.clock) leaves the
  // signature failure alone.
  Appraisal b = Appraise(QuoteA(FlipBit(AttestA(), 66), SigA(), PcrsA()), NonceA());
  EXPECT_EQ(FailureTypes(b), std::vector<std::string>{"quote_validation.signature"});
  EXPECT_EQ(JsonAt(ClaimsJson(b), "/pcrs"), std::nullopt) << "nothing established";
}

// Mutation 2: the nonce's first character becomes 'a'.
TEST_F(VectorTest, VectorAWrongNonce) {
  Enrol(AkA());
  std::string nonce = NonceA();
  ASSERT_EQ(nonce, "Ai5M5SjYjnkyv4P7itH1");
  nonce[0] = 'a';
  Appraisal a = Appraise(QuoteA(AttestA(), SigA(), PcrsA()), nonce);
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.nonce"});
  EXPECT_EQ(a.trust.instance_identity, 99);
  EXPECT_EQ(WorstStatus(a.trust), EarStatus::kContraindicated);
}

// Mutation 3: bit 0 of pcrblob byte 5 (and, as Keylime's README describes
// the effect, byte 4) changes the bank of the selection.
TEST_F(VectorTest, VectorAPcrblobSelectionFlipped) {
  Enrol(AkA());
  for (size_t at : {4u, 5u}) {
    Appraisal a = Appraise(QuoteA(AttestA(), SigA(), FlipBit(PcrsA(), at)), NonceA());
    ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.pcr_digest"}) << at;
    EXPECT_EQ(a.trust.executables, 99);
    EXPECT_NE(ContextJson(a.failures[0]).find("selection"), std::string::npos);
  }
}

// Mutation 4: one byte of the PCR16 value (pcrblob offset 142).
TEST_F(VectorTest, VectorAPcrValueFlipped) {
  Enrol(AkA());
  Appraisal a = Appraise(QuoteA(AttestA(), SigA(), FlipBit(PcrsA(), 142)), NonceA());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.pcr_digest"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/attested"),
            "6d4d3749132f6257172164cd5ff3135f447973d4a5c84e018901f6753705b701");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcrs"), std::nullopt);
}

// Mutation 5: sha1 expected, sha256 used.
TEST_F(VectorTest, VectorAExpectedSha1) {
  Enrol(AkA());
  Appraisal a = Appraise(QuoteA(AttestA(), SigA(), PcrsA(), "sha1"), NonceA());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.hash_alg"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/expected"), "sha1");
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/received"), "sha256");
}

TEST_F(VectorTest, VectorBIsValidWithPolicy) {
  std::string ak = KeylimeVector(kVectorB, "ak.pub");
  Enrol(ak, R"({"15":[")" + kZero + R"("],"22":[")" + kOnes + R"("],"mask":"0x408000"})");
  Appraisal a = Appraise(QuoteB(), NonceB());
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/ak_name"),
            "000b2d3fb7830f6cb214fac7d7cb213a21a0609148c4505927db61287e1e80322336");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcrs/sha256/16"),
            "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcrs/sha256/22"), kOnes);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcr_digest"),
            "ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/clock_info/clock"), "5994");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/reference_values"), "tpm_policy");
  EXPECT_EQ(a.trust.executables, 2);
  // Upper-case and 0x-prefixed values are the same digests.
  SetUp();
  std::string upper(64, 'F');
  Enrol(ak, R"({"22":["0x)" + upper + R"("]})");
  EXPECT_TRUE(Appraise(QuoteB(), NonceB()).is_valid);
}

TEST_F(VectorTest, VectorBReplayedQuoteIsClockRollback) {
  Enrol(KeylimeVector(kVectorB, "ak.pub"));
  ASSERT_TRUE(Appraise(QuoteB(), NonceB()).is_valid);
  auto base = dir_->Get(kAgent);
  ASSERT_TRUE(base.ok() && base->clock);
  EXPECT_EQ(base->clock->clock, 5994u);
  Appraisal again = Appraise(QuoteB(), NonceB());
  EXPECT_EQ(FailureTypes(again), std::vector<std::string>{"clock.reset_rollback"});
  EXPECT_EQ(WorstStatus(again.trust), EarStatus::kContraindicated);
  // Re-enrolling with another AK clears the baseline; the same AK keeps it.
  Enrol(KeylimeVector(kVectorB, "ak.pub"), "{}");
  EXPECT_TRUE(dir_->Get(kAgent)->clock.has_value());
}

TEST_F(VectorTest, VectorBPolicyWrongValueAndMissingPcr) {
  std::string ak = KeylimeVector(kVectorB, "ak.pub");
  Enrol(ak, R"({"15":[")" + kOnes + R"(", ")" + std::string(64, '1') + R"("],"22":[")" + kOnes +
                R"("]})");
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"pcr_validation.invalid_pcr_15"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/value"), kZero);
  EXPECT_EQ(a.trust.executables, 33);
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_FALSE(dir_->Get(kAgent)->clock.has_value()) << "a failed quote must not move the clock";

  SetUp();
  Enrol(ak, R"({"15":[")" + kZero + R"("],"10":[")" + kZero + R"("]})");
  a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"pcr_validation.missing_pcrs"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/pcrs"), "[10]");
  EXPECT_EQ(a.trust.executables, 33);
}

TEST_F(VectorTest, BadPolicyIsReported) {
  Enrol(KeylimeVector(kVectorB, "ak.pub"), R"({"15":["zz"]})");
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"pcr_validation.invalid_policy"});
}

TEST_F(VectorTest, UnknownAndUntrustedAgents) {
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.unknown_attester"});
  EXPECT_EQ(a.trust.instance_identity, 97);
  EXPECT_EQ(a.trust.hardware, 99);
  Enrol(KeylimeVector(kVectorB, "ak.pub"), "", /*trusted=*/false);
  a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.unknown_attester"});
  // Another agent's AK does not help.
  Enrol(KeylimeVector(kVectorB, "ak.pub"), "", true, "other-agent");
  a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.unknown_attester"});
}

TEST_F(VectorTest, WrongAkIsSignatureFailure) {
  Enrol(AkA());  // A's key, B's quote
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.signature"});
}

TEST_F(VectorTest, AkWithoutRestrictedAttribute) {
  std::string ak = KeylimeVector(kVectorB, "ak.pub");
  ASSERT_EQ(static_cast<uint8_t>(ak[7]), 0x05);  // objectAttributes 0x00050072
  ak[7] = 0x04;                                  // restricted cleared
  Enrol(ak);
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.ak_attributes"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/object_attributes"), "0x00040072");
  EXPECT_EQ(a.trust.instance_identity, 96);
}

TEST_F(VectorTest, UnparsableAkIsReported) {
  Enrol("not a key");
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.ak_invalid"});
}

TEST_F(VectorTest, AkChangeInvalidatesCachedKey) {
  Enrol(KeylimeVector(kVectorB, "ak.pub"));
  ASSERT_TRUE(Appraise(QuoteB(), NonceB()).is_valid);
  EXPECT_EQ(verifier_->ak_cache().size(), 1u);
  Enrol(AkA());  // the directory now holds another AK: the cached key must not be used
  Appraisal a = Appraise(QuoteB(), NonceB());
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.signature"});
  Enrol(KeylimeVector(kVectorB, "ak.pub"));  // back: clock baseline was cleared by the change
  EXPECT_TRUE(Appraise(QuoteB(), NonceB()).is_valid);
}

// EnactTrust: no PCR values travel; the digest is recomputed from a policy
// with one value for every selected PCR (B selects sha256 15, 16, 22).
TEST_F(VectorTest, EnactTrustFormOfVectorB) {
  const std::string uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
  std::string ak = KeylimeVector(kVectorB, "ak.pub");
  std::string pcr16 = "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0";
  std::string ev = testing::EnactTrustEvidence(uuid, AttestB(), SigB());

  Enrol(ak, R"({"15":[")" + kZero + R"("],"16":[")" + pcr16 + R"("],"22":[")" + kOnes + R"("]})",
        true, uuid);
  Appraisal a = Appraise(ev, NonceB(), kEnactTrustType);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/agent_id"), uuid);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/reference_values"), "tpm_policy");
  EXPECT_EQ(a.trust.executables, 2);

  SetUp();
  Enrol(ak, R"({"15":[")" + kOnes + R"("],"16":[")" + pcr16 + R"("],"22":[")" + kOnes + R"("]})",
        true, uuid);
  a = Appraise(ev, NonceB(), kEnactTrustType);
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"pcr_validation.pcr_digest"});

  // Not one value per selected PCR: no reference values, still valid.
  SetUp();
  Enrol(ak, R"({"15":[")" + kZero + R"("]})", true, uuid);
  a = Appraise(ev, NonceB(), kEnactTrustType);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/reference_values"), "none");
  EXPECT_EQ(a.trust.executables, 0);

  // A policy PCR the quote does not select is missing.
  SetUp();
  Enrol(ak, R"({"10":[")" + kZero + R"("]})", true, uuid);
  a = Appraise(ev, NonceB(), kEnactTrustType);
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"pcr_validation.missing_pcrs"});

  // Trailing or missing bytes are structure failures.
  SetUp();
  Enrol(ak, "", true, uuid);
  EXPECT_EQ(FailureTypes(Appraise(ev + "x", NonceB(), kEnactTrustType)),
            std::vector<std::string>{"quote_validation.structure"});
  EXPECT_EQ(FailureTypes(Appraise(ev.substr(0, ev.size() - 1), NonceB(), kEnactTrustType)),
            std::vector<std::string>{"quote_validation.structure"});
}

TEST(VectorC, ParsesAndPcrDigestMatches) {
  std::string text = KeylimeVector(kVectorC, "keylime_quote_string.txt");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  auto parts = tpm::ParseKeylimeQuote(text);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  auto attest = tpm::ParseAttest(parts->attest);
  ASSERT_TRUE(attest.ok()) << attest.status().ToString();
  EXPECT_EQ(attest->magic, TPM2_GENERATED_VALUE);
  EXPECT_EQ(attest->type, TPM2_ST_ATTEST_QUOTE);
  EXPECT_EQ(tpm::Tpm2bView(attest->extraData), "TEST");
  EXPECT_EQ(attest->clockInfo.clock, 3294160u);
  auto sig = tpm::ParseSignature(parts->signature);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->sigAlg, TPM2_ALG_RSASSA);
  EXPECT_EQ(sig->signature.rsassa.hash, TPM2_ALG_SHA1);
  auto blob = tpm::ParsePcrBlob(parts->pcrblob);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  ASSERT_EQ(blob->values.size(), 1u);
  EXPECT_EQ(blob->values[0].pcr, 16);
  EXPECT_EQ(blob->values[0].hash, TPM2_ALG_SHA1);
  EXPECT_EQ(HexEncode(blob->values[0].digest), "1749fe7b66b2acb66838ba3612a72cacf8938b84");
  std::string digest = tpm::Digest(*tpm::HashAlgById(TPM2_ALG_SHA1), blob->values[0].digest);
  EXPECT_EQ(HexEncode(digest), "2924e189a14040a0591f8c9c7a93f737ed73727c");
  EXPECT_EQ(digest, tpm::Tpm2bView(attest->attested.quote.pcrDigest));
  // And the serializer reproduces tpm2-tools' bytes.
  EXPECT_EQ(tpm::SerializePcrBlob(*blob), parts->pcrblob);
}

TEST(VectorB, AkNameAndAttributes) {
  auto key = tpm::ParseAk(KeylimeVector(kVectorB, "ak.pub"));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(HexEncode((*key)->name), TrimNewline(HexEncode(KeylimeVector(kVectorB, "ak.name"))));
  EXPECT_EQ((*key)->attributes(), 0x00050072u);
  EXPECT_TRUE((*key)->HasAkAttributes());
  EXPECT_STREQ((*key)->description, "rsa2048");
  EXPECT_EQ((*key)->scheme, TPM2_ALG_RSASSA);
}

// ---- The typed entry points: AppraiseQuote and the stateless AppraiseAgainst ----

class TypedEntryTest : public VectorTest {
 protected:
  tpm::QuoteEvidence EvidenceB() {
    auto ev = tpm::QuoteEvidenceFromKeylime(
        kAgent, TrimNewline(KeylimeVector(kVectorB, "keylime_quote_string.txt")), "sha256");
    EXPECT_TRUE(ev.ok()) << ev.status().ToString();
    return ev.ok() ? *ev : tpm::QuoteEvidence{};
  }
  Attester RecordB(const std::string& policy) {
    return Attester{KeylimeVector(kVectorB, "ak.pub"), policy, true, std::nullopt};
  }
  Appraisal Against(const tpm::QuoteEvidence& ev, const std::string& nonce, const Attester& a,
                    tpm::AkCache* cache = nullptr) {
    auto r = tpm::AppraiseAgainst(ev, nonce, a, cache);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return Appraisal{};
    EXPECT_TRUE(testing::IsValidJson(AppraisalJson(*r)));
    return *r;
  }
  std::string PolicyB() { return R"({"15":[")" + kZero + R"("],"22":[")" + kOnes + R"("]})"; }
};

TEST_F(TypedEntryTest, QuoteEvidenceFromKeylime) {
  tpm::QuoteEvidence ev = EvidenceB();
  EXPECT_EQ(ev.agent_id, kAgent);
  EXPECT_EQ(ev.attest, AttestB());
  EXPECT_EQ(ev.signature, SigB());
  EXPECT_EQ(ev.pcrblob, PcrsB());
  EXPECT_EQ(ev.hash_alg, "sha256");
  auto plain = tpm::QuoteEvidenceFromKeylime("a", testing::KeylimeQuoteString("x", "y", "z"));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->hash_alg.has_value());
  auto bad = tpm::QuoteEvidenceFromKeylime("a", "not a quote");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TypedEntryTest, AppraiseAgainstVectorBIsValidAndStateless) {
  tpm::AkCache cache(4);
  Attester record = RecordB(PolicyB());
  Appraisal a = Against(EvidenceB(), NonceB(), record, &cache);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/agent_id"), kAgent);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/reference_values"), "tpm_policy");
  EXPECT_EQ(a.trust.instance_identity, 2);
  EXPECT_EQ(a.trust.hardware, 2);
  EXPECT_EQ(a.trust.executables, 2);
  EXPECT_EQ(cache.size(), 1u);
  // No baseline is kept: the same quote passes again, without a cache too.
  EXPECT_TRUE(Against(EvidenceB(), NonceB(), record).is_valid);
  EXPECT_FALSE(dir_->Get(kAgent).ok()) << "no directory is read or written";
  // A baseline given with the record is checked, never advanced.
  auto attest = tpm::ParseAttest(AttestB());
  ASSERT_TRUE(attest.ok());
  const TPMS_CLOCK_INFO& ci = attest->clockInfo;
  record.clock = ClockState{ci.clock - 1, ci.resetCount, ci.restartCount};
  EXPECT_TRUE(Against(EvidenceB(), NonceB(), record).is_valid);
  record.clock = ClockState{ci.clock, ci.resetCount, ci.restartCount};
  Appraisal replay = Against(EvidenceB(), NonceB(), record);
  EXPECT_EQ(FailureTypes(replay), std::vector<std::string>{"clock.reset_rollback"});
  EXPECT_EQ(JsonAt(ContextJson(replay.failures[0]), "/step"), "clock");
}

TEST_F(TypedEntryTest, AppraiseAgainstWrongNonce) {
  Appraisal a = Against(EvidenceB(), "not the nonce", RecordB(""));
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.nonce"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/step"), "nonce");
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/received"), HexEncode(NonceB()));
  EXPECT_EQ(WorstStatus(a.trust), EarStatus::kContraindicated);
  EXPECT_EQ(a.trust.instance_identity, 99);
}

TEST_F(TypedEntryTest, AppraiseAgainstPolicyMismatch) {
  Appraisal a = Against(EvidenceB(), NonceB(), RecordB(R"({"15":[")" + kOnes + R"("]})"));
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"pcr_validation.invalid_pcr_15"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/step"), "policy");
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/value"), kZero);
  EXPECT_EQ(a.trust.executables, 33);
  EXPECT_EQ(a.trust.hardware, 2);
}

TEST_F(TypedEntryTest, AppraiseAgainstUntrustedAndBadAk) {
  Attester record = RecordB("");
  record.trusted = false;
  Appraisal a = Against(EvidenceB(), NonceB(), record);
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.unknown_attester"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/step"), "identity");
  EXPECT_EQ(a.trust.instance_identity, 97);
  record = Attester{"not a key", "", true, std::nullopt};
  a = Against(EvidenceB(), NonceB(), record);
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"identity.ak_invalid"});
  EXPECT_EQ(a.trust.instance_identity, 96);
}

// The registry path parses and calls AppraiseQuote: the same appraisal,
// claims and failure contexts included, whichever way the evidence comes.
TEST_F(TypedEntryTest, AppraiseQuoteEqualsAppraise) {
  for (const std::string& nonce : {NonceB(), std::string("stale")}) {
    SetUp();
    Enrol(KeylimeVector(kVectorB, "ak.pub"), PolicyB());
    Appraisal from_bytes = Appraise(QuoteB(), nonce);
    SetUp();
    Enrol(KeylimeVector(kVectorB, "ak.pub"), PolicyB());
    auto typed = verifier_->AppraiseQuote(EvidenceB(), nonce);
    ASSERT_TRUE(typed.ok()) << typed.status().ToString();
    EXPECT_EQ(AppraisalJson(*typed), AppraisalJson(from_bytes));
    EXPECT_EQ(typed->is_valid, nonce == NonceB());
    // Both moved the clock baseline (or neither did).
    EXPECT_EQ(dir_->Get(kAgent)->clock.has_value(), nonce == NonceB());
  }
}

TEST_F(TypedEntryTest, EveryFailureNamesItsStep) {
  Enrol(KeylimeVector(kVectorB, "ak.pub"));
  Appraisal framing = Appraise("{", NonceB());
  ASSERT_EQ(FailureTypes(framing), std::vector<std::string>{"quote_validation.structure"});
  EXPECT_EQ(JsonAt(ContextJson(framing.failures[0]), "/step"), "structure");
  EXPECT_EQ(AppraisalJson(framing),
            AppraisalJson(tpm::UnparsableEvidence("evidence is not valid JSON")));
  tpm::QuoteEvidence ev = EvidenceB();
  ev.hash_alg = "sha1";
  Appraisal a = Against(ev, "x", RecordB(R"({"10":[")" + kZero + R"("]})"));
  ASSERT_EQ(FailureTypes(a),
            (std::vector<std::string>{"quote_validation.hash_alg", "quote_validation.nonce",
                                      "pcr_validation.missing_pcrs"}));
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/step"), "signature");
  EXPECT_EQ(JsonAt(ContextJson(a.failures[1]), "/step"), "nonce");
  EXPECT_EQ(JsonAt(ContextJson(a.failures[2]), "/step"), "policy");
  ev = EvidenceB();
  ev.signature = FlipBit(ev.signature, ev.signature.size() - 1);
  a = Against(ev, NonceB(), RecordB(""));
  ASSERT_EQ(FailureTypes(a), std::vector<std::string>{"quote_validation.signature"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/step"), "signature");
}

}  // namespace
}  // namespace attestd
