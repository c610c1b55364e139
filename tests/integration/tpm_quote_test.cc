// The TPM quote verifier on fresh quotes from a real software TPM (swtpm +
// tpm2-tools): positives for RSASSA, RSAPSS and ECDSA, every negative of the
// issue, and a differential check against tpm2_checkquote.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/base64.h"
#include "common/random.h"
#include "store/memory/memory_attester_directory.h"
#include "tests/support/json.h"
#include "tests/support/swtpm.h"
#include "tests/support/tpm_evidence.h"
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
using testing::QuoteJson;
using testing::TpmQuote;
using tpm::kEnactTrustType;
using tpm::kTpmQuoteJsonType;

constexpr char kAgent[] = "6a1b3c4d-0000-4000-8000-00000000abcd";
constexpr char kAllSha256[] =
    "sha256:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23";
using Types = std::vector<std::string>;

class TpmQuoteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tpm_ = new testing::Swtpm();
    if (tpm_->ok()) {
      // Something in the PCRs other than zeros, in two banks.
      tpm_->Extend(16, "sha256", std::string(64, 'a'));
      tpm_->Extend(23, "sha1", std::string(40, 'b'));
    }
  }
  static void TearDownTestSuite() {
    delete tpm_;  // stops swtpm by PID
    tpm_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(tpm_ && tpm_->ok()) << "swtpm did not start (see scripts/tpm-fixtures.sh)";
    dir_ = std::make_shared<MemoryAttesterDirectory>();
    verifier_ = std::make_unique<tpm::TpmQuoteVerifier>(dir_);
  }

  void Enrol(const std::string& ak, const std::string& policy = "",
             const std::string& agent = kAgent) {
    Attester a;
    a.ak_tpm = ak;
    a.tpm_policy = policy;
    a.trusted = true;
    ASSERT_TRUE(dir_->Put(agent, a).ok());
  }

  static std::string Nonce() { return *RandomBytes(20); }

  TpmQuote Quote(const std::string& key, const std::string& nonce,
                 const std::string& pcrs = "sha256:0,16,23", const std::string& hash = "") {
    auto q = tpm_->Quote(key, nonce, pcrs, hash);
    EXPECT_TRUE(q.has_value()) << "tpm2_quote failed, see " << tpm_->dir() << "/tools.log";
    return q.value_or(TpmQuote{});
  }

  Appraisal Appraise(const std::string& evidence, const std::string& nonce,
                     const std::string& type = kTpmQuoteJsonType) {
    auto r = verifier_->Appraise(evidence, type, nonce);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Appraisal{};
  }

  Appraisal AppraiseQuote(const TpmQuote& q, const std::string& nonce,
                          std::optional<std::string> hash = "sha256") {
    return Appraise(QuoteJson(kAgent, q.quote, hash), nonce);
  }
  Appraisal AppraiseParts(const std::string& attest, const std::string& sig,
                          const std::string& pcrs, const std::string& nonce,
                          std::optional<std::string> hash = "sha256") {
    return Appraise(testing::SplitQuoteJson(kAgent, attest, sig, pcrs, hash), nonce);
  }

  // PCR values as the quote's pcrblob reports them.
  static std::string PcrHex(const TpmQuote& q, uint16_t bank, int pcr) {
    auto blob = tpm::ParsePcrBlob(q.pcrblob);
    if (!blob.ok()) return "";
    for (const auto& v : blob->values) {
      if (v.hash == bank && v.pcr == pcr) return HexEncode(v.digest);
    }
    return "";
  }

  static testing::Swtpm* tpm_;
  std::shared_ptr<MemoryAttesterDirectory> dir_;
  std::unique_ptr<tpm::TpmQuoteVerifier> verifier_;
};

testing::Swtpm* TpmQuoteTest::tpm_ = nullptr;

TEST_F(TpmQuoteTest, RsassaQuoteOverTwoBanksAndAll24PcrsIsValid) {
  Enrol(tpm_->AkPublic("rsa"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce, std::string(kAllSha256) + "+sha1:0,23");
  Appraisal a = AppraiseQuote(q, nonce);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/sign_alg"), "rsassa");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/ak_type"), "rsa2048");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcrs/sha256/0"), std::string(64, '0'));
  EXPECT_NE(JsonAt(ClaimsJson(a), "/pcrs/sha256/16"), std::string(64, '0'));
  EXPECT_TRUE(JsonAt(ClaimsJson(a), "/pcrs/sha256/23").has_value());
  EXPECT_NE(JsonAt(ClaimsJson(a), "/pcrs/sha1/23"), std::string(40, '0'));
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/clock_info/safe"), "true");
  EXPECT_EQ(WorstStatus(a.trust), EarStatus::kAffirming);
  // AK name claim equals what tpm2_createak reported.
  std::string name = testing::ReadFileOrEmpty(tpm_->dir() + "/ak-rsa.name");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/ak_name"), HexEncode(name));
}

TEST_F(TpmQuoteTest, RsapssQuoteIsValid) {
  Enrol(tpm_->AkPublic("rsapss"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsapss", nonce);
  Appraisal a = AppraiseQuote(q, nonce);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/sign_alg"), "rsapss");
}

TEST_F(TpmQuoteTest, EcdsaP256QuoteIsValidInBothForms) {
  Enrol(tpm_->AkPublic("ecc"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("ecc", nonce);
  Appraisal a = AppraiseParts(q.attest, q.signature, q.pcrblob, nonce, std::nullopt);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/sign_alg"), "ecdsa");
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/ak_type"), "ecc-p256");
  std::string nonce2 = Nonce();
  TpmQuote q2 = Quote("ecc", nonce2);
  EXPECT_TRUE(AppraiseQuote(q2, nonce2).is_valid);
}

TEST_F(TpmQuoteTest, WrongNonceAndReplayInANewSession) {
  Enrol(tpm_->AkPublic("rsa"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce);
  Appraisal wrong = AppraiseQuote(q, FlipBit(nonce, 19));
  EXPECT_EQ(FailureTypes(wrong), Types{"quote_validation.nonce"});
  EXPECT_EQ(WorstStatus(wrong.trust), EarStatus::kContraindicated);
  ASSERT_TRUE(AppraiseQuote(q, nonce).is_valid);
  // The same quote posted to a new session (another nonce): stale, and the
  // clock did not move either.
  Appraisal replay = AppraiseQuote(q, Nonce());
  EXPECT_EQ(FailureTypes(replay), (Types{"quote_validation.nonce", "clock.reset_rollback"}));
}

TEST_F(TpmQuoteTest, FlippedBytes) {
  Enrol(tpm_->AkPublic("rsa"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce);
  // Message: in extraData, in the clock, in pcrDigest (the last byte).
  for (size_t at : {size_t{45}, size_t{70}, q.attest.size() - 1}) {
    Appraisal a = AppraiseParts(FlipBit(q.attest, at), q.signature, q.pcrblob, nonce);
    ASSERT_EQ(FailureTypes(a), Types{"quote_validation.signature"}) << at;
  }
  // Signature: its last byte, and its hash algorithm field.
  Appraisal s =
      AppraiseParts(q.attest, FlipBit(q.signature, q.signature.size() - 1), q.pcrblob, nonce);
  EXPECT_EQ(FailureTypes(s), Types{"quote_validation.signature"});
  // A PCR value (the first digest byte of the first list).
  Appraisal p = AppraiseParts(q.attest, q.signature, FlipBit(q.pcrblob, 142), nonce);
  EXPECT_EQ(FailureTypes(p), Types{"quote_validation.pcr_digest"});
  // Untouched, it still passes.
  EXPECT_TRUE(AppraiseParts(q.attest, q.signature, q.pcrblob, nonce).is_valid);
}

// The attacker relabels PCRs: the pcrblob says sha256 PCRs 0 and 1 where the
// TPM quoted PCRs 16 and 23. Same values, same order, so the digest matches;
// tpm2_checkquote accepts it, attestd must not.
TEST_F(TpmQuoteTest, PcrblobSelectionDiffersWhileDigestMatches) {
  Enrol(tpm_->AkPublic("rsa"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce, "sha256:16,23");
  auto blob = tpm::ParsePcrBlob(q.pcrblob);
  ASSERT_TRUE(blob.ok());
  ASSERT_EQ(blob->values.size(), 2u);
  tpm::PcrBlob forged = *blob;
  forged.selection[0].select[0] = 0x03;
  forged.selection[0].select[1] = 0x00;
  forged.selection[0].select[2] = 0x00;
  forged.values[0].pcr = 0;
  forged.values[1].pcr = 1;
  std::string forged_bytes = tpm::SerializePcrBlob(forged);
  ASSERT_NE(forged_bytes, q.pcrblob);
  ASSERT_EQ(tpm::SerializePcrBlob(*blob), q.pcrblob);

  EXPECT_EQ(tpm_->CheckQuote("rsa", nonce, q.attest, q.signature, forged_bytes), 0)
      << "tpm2_checkquote is expected to miss this (it does not compare selections)";
  // A policy the forgery would satisfy: PCR 0 = the value of PCR 16.
  Enrol(tpm_->AkPublic("rsa"), R"({"0":[")" + HexEncode(blob->values[0].digest) + R"("]})");
  Appraisal a = AppraiseParts(q.attest, q.signature, forged_bytes, nonce);
  EXPECT_FALSE(a.is_valid);
  ASSERT_FALSE(a.failures.empty());
  EXPECT_EQ(a.failures[0].type, "quote_validation.pcr_digest");
  EXPECT_NE(ContextJson(a.failures[0]).find("selection"), std::string::npos);
  EXPECT_EQ(JsonAt(ClaimsJson(a), "/pcrs"), std::nullopt);
}

TEST_F(TpmQuoteTest, WrongAk) {
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce);
  // Another RSA AK of the same TPM with the same scheme: signature fails.
  Enrol(tpm_->AkPublic("rsa-sha1"));
  EXPECT_EQ(FailureTypes(AppraiseQuote(q, nonce, std::nullopt)),
            Types{"quote_validation.signature"});
  // An RSA key from another TPM (Keylime vector B).
  Enrol(testing::KeylimeVector(testing::kVectorB, "ak.pub"));
  EXPECT_EQ(FailureTypes(AppraiseQuote(q, nonce)), Types{"quote_validation.signature"});
  // An ECC AK for an RSA signature.
  Enrol(tpm_->AkPublic("ecc"));
  EXPECT_EQ(FailureTypes(AppraiseQuote(q, nonce)), Types{"quote_validation.signature"});
}

TEST_F(TpmQuoteTest, Sha1QuoteWhenSha256Expected) {
  Enrol(tpm_->AkPublic("rsa-sha1"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa-sha1", nonce, "sha256:16");
  Appraisal a = AppraiseQuote(q, nonce, "sha256");
  ASSERT_EQ(FailureTypes(a), Types{"quote_validation.hash_alg"});
  EXPECT_FALSE(dir_->Get(kAgent)->clock.has_value());
  Appraisal ok = AppraiseQuote(q, nonce, "sha1");
  EXPECT_TRUE(ok.is_valid) << AppraisalJson(ok);
  EXPECT_EQ(JsonAt(ClaimsJson(ok), "/hash_alg"), "sha1");
}

// (A TPM of its own: a reset clears the PCRs the other tests read.)
TEST_F(TpmQuoteTest, ClockRollbackAndReset) {
  testing::Swtpm own;
  ASSERT_TRUE(own.ok());
  Enrol(own.AkPublic("ecc"));
  std::string n1 = Nonce(), n2 = Nonce();
  auto older = own.Quote("ecc", n1, "sha256:16");
  auto newer = own.Quote("ecc", n2, "sha256:16");
  ASSERT_TRUE(older && newer);
  ASSERT_TRUE(AppraiseQuote(*newer, n2).is_valid);
  Appraisal back = AppraiseQuote(*older, n1);
  EXPECT_EQ(FailureTypes(back), Types{"clock.reset_rollback"});
  ASSERT_FALSE(back.failures.empty());
  EXPECT_TRUE(JsonAt(ContextJson(back.failures[0]), "/previous/clock").has_value());
  // A TPM reset (swtpm restarted) raises resetCount: allowed.
  auto before = dir_->Get(kAgent)->clock;
  ASSERT_TRUE(own.Restart());
  std::string n3 = Nonce();
  auto after = own.Quote("ecc", n3, "sha256:16");
  ASSERT_TRUE(after.has_value());
  Appraisal a = AppraiseQuote(*after, n3);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_GT(dir_->Get(kAgent)->clock->reset_count, before->reset_count);
  // ... and the pre-reset quote is now a rollback.
  EXPECT_EQ(FailureTypes(AppraiseQuote(*newer, n2)), Types{"clock.reset_rollback"});
}

// Power lost without TPM2_Shutdown: the TPM says its clock is not safe.
// (A TPM of its own: the suite's must stay safe.)
TEST_F(TpmQuoteTest, PowerLossMakesTheClockUnsafe) {
  testing::Swtpm own;
  ASSERT_TRUE(own.ok());
  Enrol(own.AkPublic("ecc"));
  // In use (so its startup reached NV), then the power goes.
  std::string n0 = Nonce();
  auto before = own.Quote("ecc", n0, "sha256:16");
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(AppraiseQuote(*before, n0).is_valid);
  ASSERT_TRUE(own.Restart(/*orderly=*/false));
  std::string nonce = Nonce();
  auto q = own.Quote("ecc", nonce, "sha256:16");
  ASSERT_TRUE(q.has_value());
  Appraisal u = AppraiseQuote(*q, nonce);
  EXPECT_EQ(FailureTypes(u), Types{"clock.unsafe"});
  EXPECT_EQ(JsonAt(ClaimsJson(u), "/clock_info/safe"), "false");
  EXPECT_EQ(dir_->Get(kAgent)->clock->clock, [&] {
    auto at = tpm::ParseAttest(before->attest);
    return at.ok() ? at->clockInfo.clock : 0;
  }()) << "an unsafe quote must not move the baseline";
}

TEST_F(TpmQuoteTest, PcrPolicyRightWrongAndMissing) {
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce, "sha256:0,16,23+sha1:23");
  std::string pcr16 = PcrHex(q, TPM2_ALG_SHA256, 16);
  ASSERT_EQ(pcr16.size(), 64u);
  ASSERT_NE(pcr16, std::string(64, '0')) << "the suite extended PCR 16";
  Enrol(tpm_->AkPublic("rsa"),
        R"({"16":[")" + pcr16 + R"("],"0":[")" + std::string(64, '0') + R"("],"mask":"0x10001"})");
  Appraisal good = AppraiseQuote(q, nonce);
  EXPECT_TRUE(good.is_valid) << AppraisalJson(good);
  EXPECT_EQ(good.trust.executables, 2);

  SetUp();
  Enrol(tpm_->AkPublic("rsa"), R"({"16":[")" + std::string(64, '0') + R"("]})");
  Appraisal wrong = AppraiseQuote(q, nonce);
  ASSERT_EQ(FailureTypes(wrong), Types{"pcr_validation.invalid_pcr_16"});
  EXPECT_EQ(JsonAt(ContextJson(wrong.failures[0]), "/value"), pcr16);

  SetUp();
  Enrol(tpm_->AkPublic("rsa"),
        R"({"16":[")" + pcr16 + R"("],"9":[")" + std::string(64, '0') + R"("]})");
  Appraisal missing = AppraiseQuote(q, nonce);
  ASSERT_EQ(FailureTypes(missing), Types{"pcr_validation.missing_pcrs"});
  EXPECT_EQ(JsonAt(ContextJson(missing.failures[0]), "/pcrs"), "[9]");
}

TEST_F(TpmQuoteTest, UnknownAgent) {
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce);
  EXPECT_EQ(FailureTypes(AppraiseQuote(q, nonce)), Types{"identity.unknown_attester"});
}

TEST_F(TpmQuoteTest, SigningKeyWithoutRestrictedIsNotAnAk) {
  Enrol(tpm_->AkPublic("unrestricted"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("unrestricted", nonce);
  // The TPM quotes with it, and the signature is genuine ...
  EXPECT_EQ(tpm_->CheckQuote("unrestricted", nonce, q.attest, q.signature, q.pcrblob), 0);
  // ... but it is not an AK.
  Appraisal a = AppraiseQuote(q, nonce);
  ASSERT_EQ(FailureTypes(a), Types{"identity.ak_attributes"});
  EXPECT_EQ(JsonAt(ContextJson(a.failures[0]), "/object_attributes"), "0x00040072");
}

TEST_F(TpmQuoteTest, EnactTrustFormOfAFreshQuote) {
  const std::string uuid = "1d2c3b4a-5f6e-4a8b-9c0d-112233445566";
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsa", nonce, "sha256:0,16");
  std::string policy = R"({"0":[")" + PcrHex(q, TPM2_ALG_SHA256, 0) + R"("],"16":[")" +
                       PcrHex(q, TPM2_ALG_SHA256, 16) + R"("]})";
  Enrol(tpm_->AkPublic("rsa"), policy, uuid);
  std::string ev = testing::EnactTrustEvidence(uuid, q.attest, q.signature);
  Appraisal a = Appraise(ev, nonce, kEnactTrustType);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(a.trust.executables, 2);
  EXPECT_EQ(FailureTypes(Appraise(ev, Nonce(), kEnactTrustType)),
            (Types{"quote_validation.nonce", "clock.reset_rollback"}));
}

// For every fresh fixture and its mutations, attestd's verdict on signature,
// nonce and digest agrees with tpm2_checkquote (tpm2-tools 5.4). RSAPSS is
// the exception: tpm2_checkquote 5.4 rejects every RSAPSS quote
// (tpm2-tools issue #3283), so there it is openssl dgst that we agree with.
TEST_F(TpmQuoteTest, DifferentialAgainstTpm2Checkquote) {
  struct Fixture {
    const char* key;
    const char* pcrs;
    const char* hash;
  };
  for (const Fixture& f :
       {Fixture{"rsa", "sha256:0,16,23+sha1:23", "sha256"}, Fixture{"ecc", kAllSha256, "sha256"},
        Fixture{"rsa-sha1", "sha1:16,23", "sha1"}, Fixture{"rsapss", "sha256:16", "sha256"}}) {
    SCOPED_TRACE(f.key);
    Enrol(tpm_->AkPublic(f.key));
    std::string nonce = Nonce();
    TpmQuote q = Quote(f.key, nonce, f.pcrs);
    struct Case {
      const char* what;
      std::string attest, sig, pcrs, nonce;
    };
    std::vector<Case> cases = {
        {"fresh", q.attest, q.signature, q.pcrblob, nonce},
        {"wrong nonce", q.attest, q.signature, q.pcrblob, FlipBit(nonce, 0)},
        {"flipped message", FlipBit(q.attest, q.attest.size() - 3), q.signature, q.pcrblob, nonce},
        {"flipped signature", q.attest, FlipBit(q.signature, q.signature.size() - 5), q.pcrblob,
         nonce},
        {"flipped pcr value", q.attest, q.signature, FlipBit(q.pcrblob, 150), nonce},
    };
    for (const Case& c : cases) {
      SCOPED_TRACE(c.what);
      // A fresh verifier state per case: the clock must not interfere.
      SetUp();
      Enrol(tpm_->AkPublic(f.key));
      Appraisal a = AppraiseParts(c.attest, c.sig, c.pcrs, c.nonce, f.hash);
      bool ours = true;
      for (const Failure& fl : a.failures) {
        if (fl.type == "quote_validation.signature" || fl.type == "quote_validation.nonce" ||
            fl.type == "quote_validation.pcr_digest" || fl.type == "quote_validation.structure") {
          ours = false;
        }
      }
      int rc = tpm_->CheckQuote(f.key, c.nonce, c.attest, c.sig, c.pcrs, f.hash);
      if (std::string(f.key) == "rsapss") {
        EXPECT_NE(rc, 0) << "tpm2_checkquote now verifies RSAPSS: drop the exception";
        // openssl dgst as the independent oracle for the signature.
        std::string p = tpm_->dir() + "/pss";
        {
          std::ofstream(p + ".attest", std::ios::binary) << c.attest;
          std::ofstream(p + ".sig", std::ios::binary) << c.sig.substr(6);
        }
        int pem = tpm_->Run({"sh", "-c",
                             "tpm2_print -t TPM2B_PUBLIC -f pem " + tpm_->dir() +
                                 "/ak-rsapss.pub > " + p + ".pem"});
        ASSERT_EQ(pem, 0);
        int sig_ok = tpm_->Run({"openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss",
                                "-sigopt", "rsa_pss_saltlen:-2", "-verify", p + ".pem",
                                "-signature", p + ".sig", p + ".attest"});
        bool expected = sig_ok == 0 && c.nonce == nonce && c.pcrs == q.pcrblob;
        EXPECT_EQ(ours, expected) << AppraisalJson(a);
      } else {
        EXPECT_EQ(ours, rc == 0) << "tpm2_checkquote exit " << rc << "; " << AppraisalJson(a);
      }
      EXPECT_EQ(ours, std::string(c.what) == "fresh");
    }
  }
}

TEST_F(TpmQuoteTest, FixtureScriptQuoteSubcommand) {
  // The script's own quote path, as a person or CI would use it.
  Enrol(tpm_->AkPublic("ecc"));
  std::string nonce = Nonce();
  std::string out = tpm_->dir() + "/scripted";
  int rc = tpm_->Run({"bash", testing::TpmFixturesScript(), "quote", tpm_->dir(), "ecc",
                      HexEncode(nonce), "sha256:16", out});
  ASSERT_EQ(rc, 0);
  std::string quote = testing::ReadFileOrEmpty(out + ".quote");
  Appraisal a = Appraise(QuoteJson(kAgent, quote), nonce);
  EXPECT_TRUE(a.is_valid) << AppraisalJson(a);
  EXPECT_EQ(tpm_->Run({"bash", testing::TpmFixturesScript(), "checkquote", tpm_->dir(), "ecc",
                       HexEncode(nonce), out}),
            0);
}

// The AK's prepared verification contexts are shared by every thread that
// appraises its quotes: concurrent appraisals of good and tampered quotes
// must each get their own verdict on the signature.
TEST_F(TpmQuoteTest, ConcurrentAppraisalsWithOneAkEachGetTheirOwnSignatureVerdict) {
  Enrol(tpm_->AkPublic("rsapss"));
  std::string nonce = Nonce();
  TpmQuote q = Quote("rsapss", nonce, "sha256:0,16");
  std::string bad_sig = FlipBit(q.signature, q.signature.size() - 3);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        bool tamper = (t + i) % 2 == 1;
        auto r = verifier_->Appraise(
            testing::SplitQuoteJson(kAgent, q.attest, tamper ? bad_sig : q.signature, q.pcrblob,
                                    "sha256"),
            kTpmQuoteJsonType, nonce);
        bool signature_failed =
            r.ok() && !r->failures.empty() && r->failures[0].type == "quote_validation.signature";
        if (!r.ok() || signature_failed != tamper) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace attestd
