// Parsers of the TPM verifier on hand-made edge cases: the pcrblob layout,
// the quote string, the JSON and EnactTrust forms, AK keys, the key cache,
// the policy format, and garbage of every kind through the whole verifier.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/base64.h"
#include "common/random.h"
#include "store/memory/memory_attester_directory.h"
#include "tests/support/json.h"
#include "tests/support/tpm_evidence.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/ak_cache.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcr_policy.h"
#include "verifiers/tpm/pcrblob.h"
#include "verifiers/tpm/quote_verifier.h"

namespace attestd {
namespace {

using testing::AppraisalJson;
using testing::ClaimsJson;
using testing::ContextJson;

using testing::FailureTypes;
using testing::KeylimeVector;
using testing::kVectorB;
using namespace tpm;

PcrBlob SampleBlob() {
  PcrBlob b;
  PcrBankSelection sha256{TPM2_ALG_SHA256, {0x03, 0x00, 0x80}};  // PCRs 0, 1, 23
  PcrBankSelection sha1{TPM2_ALG_SHA1, {0x00, 0x01, 0x00}};      // PCR 8
  b.selection = {sha256, sha1};
  b.values = {{TPM2_ALG_SHA256, 0, std::string(32, 'a')},
              {TPM2_ALG_SHA256, 1, std::string(32, 'b')},
              {TPM2_ALG_SHA256, 23, std::string(32, 'c')},
              {TPM2_ALG_SHA1, 8, std::string(20, 'd')}};
  return b;
}

TEST(PcrBlob, RoundTripsAndKeepsOrder) {
  std::string bytes = SerializePcrBlob(SampleBlob());
  EXPECT_EQ(bytes.size(), kPcrSelectionBytes + 4 + kPcrDigestListBytes);
  auto b = ParsePcrBlob(bytes);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->values.size(), 4u);
  EXPECT_EQ(b->values[2].pcr, 23);
  EXPECT_EQ(b->values[3].hash, TPM2_ALG_SHA1);
  EXPECT_EQ(b->values[3].digest, std::string(20, 'd'));
  EXPECT_EQ(b->selection, SampleBlob().selection);
}

TEST(PcrBlob, All24PcrsOfTwoBanksSpanSeveralDigestLists) {
  PcrBlob in;
  for (uint16_t h : {TPM2_ALG_SHA256, TPM2_ALG_SHA384}) {
    in.selection.push_back(PcrBankSelection{h, {0xff, 0xff, 0xff}});
    for (int p = 0; p < 24; ++p) {
      in.values.push_back({h, p, std::string(HashAlgById(h)->size, static_cast<char>(p))});
    }
  }
  std::string bytes = SerializePcrBlob(in);
  EXPECT_EQ(bytes.size(), kPcrSelectionBytes + 4 + 6 * kPcrDigestListBytes);
  auto out = ParsePcrBlob(bytes);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->values.size(), 48u);
  EXPECT_EQ(out->values[47].digest, std::string(48, 23));
}

TEST(PcrBlob, RejectsMalformedLayouts) {
  std::string good = SerializePcrBlob(SampleBlob());
  ASSERT_TRUE(ParsePcrBlob(good).ok());
  EXPECT_FALSE(ParsePcrBlob("").ok());
  EXPECT_FALSE(ParsePcrBlob(good.substr(0, 135)).ok());
  EXPECT_FALSE(ParsePcrBlob(good + "x").ok());
  EXPECT_FALSE(ParsePcrBlob(good.substr(0, good.size() - 1)).ok());
  std::string s = good;
  s[6] = 2;  // sizeofSelect of the first bank
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[0] = 17;  // more than 16 banks
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[10] = 1;  // pcrSelect[3]: a PCR above 23
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[132] = 2;  // two TPML_DIGESTs announced, one present
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[136] = 3;  // 3 digests for 4 selected PCRs
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[136] = 9;  // count above 8
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[140] = 31;  // first sha256 digest 31 bytes
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  s = good;
  s[140] = 65;  // size above 64
  EXPECT_FALSE(ParsePcrBlob(s).ok());
  // The same bank twice.
  PcrBlob twice = SampleBlob();
  twice.selection[1].hash = TPM2_ALG_SHA256;
  twice.values[3] = {TPM2_ALG_SHA256, 8, std::string(32, 'd')};
  EXPECT_FALSE(ParsePcrBlob(SerializePcrBlob(twice)).ok());
}

TEST(QuoteString, AcceptsOnlyTheKeylimeForm) {
  std::string a = Base64Encode("attest"), s = Base64Encode("sig"), p = Base64Encode("pcrs");
  auto ok = ParseKeylimeQuote("r" + a + ":" + s + ":" + p);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->attest, "attest");
  EXPECT_EQ(ok->signature, "sig");
  EXPECT_EQ(ok->pcrblob, "pcrs");
  for (const std::string& bad : std::vector<std::string>{
           "", "r", "r::", a + ":" + s + ":" + p, "r" + a + ":" + s,
           "r" + a + ":" + s + ":" + p + ":" + p, "r" + a + ":" + s + ":",
           "r" + a + ":" + s + ":" + "cGNycw",
           "r" + a + ":" + s + ":" + "cGNy c3M=", "R" + a + ":" + s + ":" + p}) {
    EXPECT_FALSE(ParseKeylimeQuote(bad).ok()) << bad;
  }
  EXPECT_FALSE(
      ParseKeylimeQuote("r" + std::string(kMaxQuotePartChars + 4, 'A') + ":" + s + ":" + p).ok());
}

TEST(JsonEvidence, FieldsAndTheirTypes) {
  std::string q = "r" + Base64Encode("a") + ":" + Base64Encode("s") + ":" + Base64Encode("p");
  auto ev = ParseQuoteJsonEvidence(R"({"agent_id":"x","quote":")" + q +
                                   R"(","hash_alg":"sha256","ima_measurement_list":"","extra":1})");
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->agent_id, "x");
  EXPECT_EQ(*ev->hash_alg, "sha256");
  EXPECT_TRUE(ev->has_ima_measurement_list);
  EXPECT_EQ(*ev->pcrblob, "p");
  std::string split = R"("message":"YQ==","signature":"cw==","pcrs":"cA==")";
  EXPECT_TRUE(ParseQuoteJsonEvidence(R"({"agent_id":"x",)" + split + "}").ok());
  for (const std::string& bad : std::vector<std::string>{
           "{", "[]", "null", R"({"quote":")" + q + R"("})", R"({"agent_id":"x"})",
           R"({"agent_id":7,"quote":")" + q + R"("})", R"({"agent_id":"","quote":")" + q + R"("})",
           R"({"agent_id":"a b","quote":")" + q + R"("})",
           R"({"agent_id":"x","agent_id":"y","quote":")" + q + R"("})",
           R"({"agent_id":"x","quote":")" + q + R"(",)" + split + "}",
           R"({"agent_id":"x","message":"YQ==","signature":"cw=="})",
           R"({"agent_id":"x","message":"YQ","signature":"cw==","pcrs":"cA=="})",
           R"({"agent_id":"x","quote":")" + q + R"(","hash_alg":5})"}) {
    EXPECT_FALSE(ParseQuoteJsonEvidence(bad).ok()) << bad;
  }
}

TEST(EnactTrust, Framing) {
  std::string id(16, '\x11');
  auto ev = ParseEnactTrustEvidence(id + std::string("\x00\x02", 2) + "AAsig");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->agent_id, "11111111-1111-1111-1111-111111111111");
  EXPECT_EQ(ev->attest, "AA");
  EXPECT_EQ(ev->signature, "sig");
  EXPECT_FALSE(ev->pcrblob.has_value());
  EXPECT_FALSE(ParseEnactTrustEvidence(id + std::string("\x00\x05", 2) + "AAsig").ok());
  EXPECT_FALSE(ParseEnactTrustEvidence(id + std::string("\x00\x00", 2) + "sig").ok());
  EXPECT_FALSE(ParseEnactTrustEvidence(id).ok());
  EXPECT_FALSE(ParseEnactTrustEvidence("").ok());
}

TEST(TpmStructures, WholeBufferMustBeConsumed) {
  std::string attest = KeylimeVector(kVectorB, "quote.out");
  ASSERT_TRUE(ParseAttest(attest).ok());
  EXPECT_FALSE(ParseAttest(attest + '\0').ok());
  EXPECT_FALSE(ParseAttest(attest.substr(0, attest.size() - 1)).ok());
  std::string sig = KeylimeVector(kVectorB, "quotesig.out");
  ASSERT_TRUE(ParseSignature(sig).ok());
  EXPECT_FALSE(ParseSignature(sig + '\0').ok());
  std::string pub = KeylimeVector(kVectorB, "ak.pub");
  ASSERT_TRUE(ParsePublic(pub).ok());
  EXPECT_FALSE(ParsePublic(pub + '\0').ok());
}

std::string PemOf(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string EcAk(const char* curve) {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  EXPECT_NE(k, nullptr);
  std::string pem = PemOf(k);
  EVP_PKEY_free(k);
  auto ak = Tpm2bPublicFromPem(pem, kAkRequiredAttributes, TPM2_ALG_ECDSA, TPM2_ALG_SHA256);
  EXPECT_TRUE(ak.ok()) << ak.status().ToString();
  return ak.ok() ? *ak : "";
}

TEST(Ak, RsaExponentZeroMeans65537AndModulusMustMatchKeyBits) {
  std::string pub = KeylimeVector(kVectorB, "ak.pub");
  auto key = ParseAk(pub);
  ASSERT_TRUE(key.ok());
  BIGNUM* e = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param((*key)->pkey.get(), "e", &e), 1);
  EXPECT_EQ(BN_get_word(e), 65537u);
  BN_free(e);
  // keyBits says 3072, the modulus has 2048 bits.
  auto parsed = ParsePublic(pub);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->publicArea.parameters.rsaDetail.keyBits, 2048);
  std::string s = pub;
  size_t at = 2 + 2 + 2 + 4 + 2 + 2 + 2 + 2;  // type nameAlg attrs authPolicy sym scheme hash
  ASSERT_EQ(static_cast<uint8_t>(s[at]), 0x08);
  s[at] = 0x0c;
  EXPECT_FALSE(ParseAk(s).ok());
  // An even modulus is refused.
  s = pub;
  s[s.size() - 1] = static_cast<char>(s[s.size() - 1] & 0xfe);
  EXPECT_FALSE(ParseAk(s).ok());
}

TEST(Ak, EccCurvesAndOnCurveCheck) {
  for (const char* curve : {"P-256", "P-384", "P-521"}) {
    std::string ak = EcAk(curve);
    auto key = ParseAk(ak);
    ASSERT_TRUE(key.ok()) << curve << ": " << key.status().ToString();
    EXPECT_TRUE((*key)->HasAkAttributes());
    // The last byte of y changed: no longer on the curve.
    std::string bad = ak;
    bad[bad.size() - 1] = static_cast<char>(bad[bad.size() - 1] ^ 1);
    EXPECT_FALSE(ParseAk(bad).ok()) << curve;
  }
  EXPECT_STREQ((*ParseAk(EcAk("P-256")))->description, "ecc-p256");
}

TEST(Ak, GarbageNeverParses) {
  EXPECT_FALSE(ParseAk("").ok());
  EXPECT_FALSE(ParseAk(std::string(300, '\xff')).ok());
  std::string pub = KeylimeVector(kVectorB, "ak.pub");
  for (size_t i = 0; i < pub.size(); i += 7) {
    (void)ParseAk(testing::FlipBit(pub, i));  // must not crash
  }
}

TEST(AkCache, BoundedLruAndInvalidatedByNewBytes) {
  AkCache cache(2);
  std::string b = KeylimeVector(kVectorB, "ak.pub");
  std::string e1 = EcAk("P-256"), e2 = EcAk("P-256");
  auto k1 = cache.Get("a", b);
  ASSERT_TRUE(k1.ok());
  EXPECT_EQ(cache.Get("a", b)->get(), k1->get());
  EXPECT_EQ(cache.hits(), 1u);
  ASSERT_TRUE(cache.Get("b", e1).ok());
  ASSERT_TRUE(cache.Get("c", e2).ok());
  EXPECT_EQ(cache.size(), 2u);
  // "a" was least recently used and is gone: a new parse.
  uint64_t misses = cache.misses();
  EXPECT_NE(cache.Get("a", b)->get(), k1->get());
  EXPECT_EQ(cache.misses(), misses + 1);
  // Same agent, other AK bytes: the other key, never the stale one.
  auto changed = cache.Get("a", e1);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((*changed)->tpm2b_public, e1);
  EXPECT_FALSE(cache.Get("a", "junk").ok());
}

TEST(PcrPolicy, KeylimeFormat) {
  auto p = ParseTpmPolicy(R"({"15":["00","AB"],"22":"0xff","mask":"0x408000"})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->allowed.size(), 2u);
  EXPECT_EQ(p->allowed[15][1], "\xab");
  EXPECT_EQ(p->allowed[22][0], "\xff");
  EXPECT_TRUE(ParseTpmPolicy("")->empty());
  EXPECT_TRUE(ParseTpmPolicy("null")->empty());
  EXPECT_TRUE(ParseTpmPolicy(R"({"mask":"0x0"})")->empty());
  for (const char* bad :
       {"{", "[]", R"({"24":["00"]})", R"({"x":["00"]})", R"({"01":["00"]})", R"({"1":[]})",
        R"({"1":[1]})", R"({"1":["0g"]})", R"({"1":{}})", R"({"1":["00"],"1":["00"]})"}) {
    EXPECT_FALSE(ParseTpmPolicy(bad).ok()) << bad;
  }
  PolicyVerdict v = EvaluatePolicy(*p, {{15, "\xab"}, {3, "x"}});
  EXPECT_EQ(v.missing, std::vector<int>{22});
  EXPECT_TRUE(v.invalid.empty());
  v = EvaluatePolicy(*p, {{15, "\xac"}, {22, "\xff"}});
  EXPECT_EQ(v.invalid, std::vector<int>{15});
}

// Any byte string in any field: complete, invalid, structure, no crash.
class GarbageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_shared<MemoryAttesterDirectory>();
    Attester a;
    a.ak_tpm = KeylimeVector(kVectorB, "ak.pub");
    a.trusted = true;
    ASSERT_TRUE(dir_->Put("agent", a).ok());
    verifier_ = std::make_unique<TpmQuoteVerifier>(dir_);
  }
  void ExpectStructure(const std::string& evidence, const std::string& type) {
    auto r = verifier_->Appraise(evidence, type, "nonce-nonce");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->is_valid);
    ASSERT_FALSE(r->failures.empty());
    EXPECT_EQ(r->failures[0].type, "quote_validation.structure") << evidence.substr(0, 80);
    EXPECT_TRUE(testing::IsValidJson(AppraisalJson(*r)));
  }
  std::shared_ptr<MemoryAttesterDirectory> dir_;
  std::unique_ptr<TpmQuoteVerifier> verifier_;
};

TEST_F(GarbageTest, OneMebibyteFields) {
  std::string mib = *RandomBytes(1 << 20);
  std::string b64 = Base64Encode(mib);
  std::string q = KeylimeVector(kVectorB, "keylime_quote_string.txt");
  while (!q.empty() && q.back() == '\n') q.pop_back();
  ExpectStructure(mib, kTpmQuoteJsonType);
  ExpectStructure(mib, kEnactTrustType);
  ExpectStructure(testing::QuoteJson("agent", b64), kTpmQuoteJsonType);
  ExpectStructure(testing::QuoteJson("agent", "r" + b64 + ":" + b64 + ":" + b64),
                  kTpmQuoteJsonType);
  ExpectStructure(testing::QuoteJson(b64, q), kTpmQuoteJsonType);
  ExpectStructure(testing::QuoteJson("agent", q, b64), kTpmQuoteJsonType);
  ExpectStructure(testing::SplitQuoteJson("agent", mib, "s", "p"), kTpmQuoteJsonType);
  ExpectStructure(testing::SplitQuoteJson("agent", "a", mib, "p"), kTpmQuoteJsonType);
  ExpectStructure(testing::SplitQuoteJson("agent", "a", "s", mib), kTpmQuoteJsonType);
  // A 1 MiB unknown member is ignored; the rest still appraises.
  std::string with_junk = testing::QuoteJson("agent", q);
  with_junk.insert(1, "\"junk\":\"" + b64 + "\",");
  auto r = verifier_->Appraise(with_junk, kTpmQuoteJsonType, KeylimeVector(kVectorB, "rand.out"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_valid) << AppraisalJson(*r);
}

TEST_F(GarbageTest, RandomAndTruncatedInputs) {
  std::string q = KeylimeVector(kVectorB, "keylime_quote_string.txt");
  std::string json = testing::QuoteJson("agent", q.substr(0, q.find('\n')));
  for (size_t n = 0; n < json.size(); n += 13)
    ExpectStructure(json.substr(0, n), kTpmQuoteJsonType);
  for (int i = 0; i < 200; ++i) {
    std::string junk = *RandomBytes(static_cast<size_t>(i) * 5);
    ExpectStructure(junk, kEnactTrustType);
    ExpectStructure(junk, kTpmQuoteJsonType);
    ExpectStructure(testing::SplitQuoteJson("agent", junk + "x", junk + "y", junk + "z"),
                    kTpmQuoteJsonType);
  }
  ExpectStructure(testing::QuoteJson("agent", q.substr(0, q.find('\n')), "md5"), kTpmQuoteJsonType);
}

TEST(TpmVerifier, RegistersBothMediaTypesAsCheap) {
  TpmQuoteVerifier v(nullptr);
  EXPECT_EQ(v.MediaTypes(), (std::vector<std::string>{"application/vnd.attestd.tpm2-quote+json",
                                                      "application/vnd.enacttrust.tpm-evidence"}));
  EXPECT_TRUE(v.IsCheap());
}

}  // namespace
}  // namespace attestd
