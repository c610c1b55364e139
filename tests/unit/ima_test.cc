// The IMA library (verifiers/ima) on measurement lists built from real files
// of this machine, with real template hashes and evmctl signatures: verdicts,
// event ids, PCR 10 replay, incremental state, policy formats.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <list>
#include <thread>

#include "common/base64.h"
#include "tests/support/ima_log.h"
#include "tests/support/processes.h"
#include "verifiers/ima/ima_appraisal.h"
#include "verifiers/ima/ima_log.h"
#include "verifiers/ima/ima_policy.h"

namespace attestd {
namespace {

using testing::FileDigest;
using testing::ImaLogBuilder;
using testing::ImaPolicyBuilder;
using testing::ImaSigner;
using testing::TempDir;
using namespace ima;

std::vector<std::string> Ids(const ImaAppraisal& a) {
  std::vector<std::string> out;
  for (const ImaFailure& f : a.failures) out.push_back(f.event_id);
  return out;
}

std::string Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

PolicyPtr Compile(const std::string& json, const std::vector<std::string>& keys = {}) {
  Result<PolicyPtr> p = CompileRuntimePolicy(json, keys);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : nullptr;
}

ImaAppraisal Appraise(const CompiledPolicy& p, const ImaLogBuilder& log,
                      const ImaState* prev = nullptr, std::string_view text = {},
                      uint64_t first = 0, const AppraiseOptions& opt = {}) {
  AppraiseInput in;
  in.log = text.empty() ? std::string_view(log.text()) : text;
  in.first_entry = first;
  in.bank = "sha256";
  std::string pcr = log.Pcr10("sha256");
  in.pcr10 = pcr;
  Result<ImaAppraisal> r = AppraiseImaLog(p, prev, in, opt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : ImaAppraisal();
}

// Files of this machine and of a temporary directory, all in a policy.
class ImaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = Write(dir_.path() + "/a.sh", "#!/bin/sh\necho a\n");
    b_ = Write(dir_.path() + "/b.conf", "b = 1\n");
    log_.BootAggregate();
    policy_.Digest("boot_aggregate", FileDigestOf("boot"));
    for (const std::string& f : {std::string("/bin/ls"), std::string("/bin/true"), a_, b_}) {
      policy_.Digest(f, log_.AddFile(f));
    }
  }
  static std::string FileDigestOf(const std::string& s) {
    std::string d;
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(md), n);
  }

  TempDir dir_;
  std::string a_, b_;
  ImaLogBuilder log_;
  ImaPolicyBuilder policy_;
};

TEST_F(ImaTest, RealFilesPass) {
  PolicyPtr p = Compile(policy_.Json());
  ImaAppraisal a = Appraise(*p, log_);
  EXPECT_TRUE(a.ok()) << ::testing::PrintToString(Ids(a));
  EXPECT_EQ(a.summary.entries_appraised, 5u);
  EXPECT_EQ(a.summary.entries_passed, 5u);
  EXPECT_EQ(a.summary.files_measured, 4u);
  EXPECT_EQ(a.summary.quoted_entries, 5u);
  EXPECT_EQ(a.state.next_entry, 5u);
  EXPECT_EQ(a.state.pcr10, log_.Pcr10("sha256"));
  EXPECT_EQ(p->id().size(), 64u);
}

TEST_F(ImaTest, EveryBankReplays) {
  for (const char* bank : {"sha1", "sha256"}) {
    Result<std::string> pcr = ReplayPcr10(log_.text(), bank);
    ASSERT_TRUE(pcr.ok());
    EXPECT_EQ(*pcr, log_.Pcr10(bank)) << bank;
  }
  ImaLogBuilder big({"sha384", "sha512"});
  big.AddFile("/bin/ls");
  EXPECT_EQ(*ReplayPcr10(big.text(), "sha384"), big.Pcr10("sha384"));
  EXPECT_EQ(*ReplayPcr10(big.text(), "sha512"), big.Pcr10("sha512"));
}

TEST_F(ImaTest, DigestNotInPolicy) {
  std::string c = Write(dir_.path() + "/c.bin", "not in the policy");
  log_.AddFile(c);
  Write(b_, "b = 2\n");  // changed after the policy was made
  log_.AddFile(b_);
  ImaAppraisal a = Appraise(*Compile(policy_.Json()), log_);
  ASSERT_EQ(a.failures.size(), 2u);
  EXPECT_EQ(a.failures[0].event_id, "ima.validation.ima-ng.not_in_allowlist");
  EXPECT_EQ(a.failures[0].path, c);
  EXPECT_EQ(a.failures[0].entry, 5u);
  EXPECT_EQ(a.failures[0].line, 6u);
  EXPECT_EQ(a.failures[1].event_id, "ima.validation.ima-ng.runtime_policy_hash");
  EXPECT_EQ(a.failures[1].path, b_);
  EXPECT_NE(a.failures[1].reason.find(HexEncode(FileDigest(b_))), std::string::npos);
  EXPECT_EQ(a.summary.quoted_entries, 7u);  // the PCR still replays
  EXPECT_EQ(a.state.next_entry, 0u);        // a failure resets the state
}

TEST_F(ImaTest, ExcludedFilePasses) {
  std::string tmp = Write(dir_.path() + "/scratch.log", "whatever");
  log_.AddFile(tmp);
  policy_.Exclude("/nonexistent/.*").Exclude(dir_.path() + "/scratch\\.");
  ImaAppraisal a = Appraise(*Compile(policy_.Json()), log_);
  EXPECT_TRUE(a.ok()) << ::testing::PrintToString(Ids(a));
  EXPECT_EQ(a.summary.excluded, 1u);
}

TEST_F(ImaTest, SignaturesRsaAndEc) {
  ImaSigner rsa(dir_.path(), "rsa"), ec(dir_.path(), "ec");
  ASSERT_TRUE(rsa.ok() && ec.ok());
  std::string s1 = rsa.Sign("/bin/ls");
  std::string s2 = ec.Sign("/bin/true");
  ASSERT_FALSE(s1.empty());
  ASSERT_FALSE(s2.empty());
  std::string unsigned_file = Write(dir_.path() + "/d.sh", "echo d\n");
  log_.AddSignedFile("/bin/ls", s1, "sha256", "/usr/bin/ls-signed");
  log_.AddSignedFile("/bin/true", s2, "sha256", "/usr/bin/true-signed");
  log_.AddSignedFile(unsigned_file, "");  // ima-sig without signature: needs a digest
  policy_.Digest(unsigned_file, FileDigest(unsigned_file));
  policy_.VerificationKey(rsa.PublicDer());
  // The EC key comes as an extra PEM key.
  ImaAppraisal a = Appraise(*Compile(policy_.Json(), {ec.PublicPem()}), log_);
  EXPECT_TRUE(a.ok()) << ::testing::PrintToString(Ids(a));
  EXPECT_EQ(a.summary.signatures_verified, 2u);
  // A certificate (key id from its Subject Key Identifier) works as well.
  a = Appraise(*Compile(policy_.Json(), {ec.CertificateDer()}), log_);
  EXPECT_TRUE(a.ok()) << ::testing::PrintToString(Ids(a));
}

TEST_F(ImaTest, TamperedSignatureAndUnknownKey) {
  ImaSigner rsa(dir_.path(), "rsa"), other(dir_.path(), "ec");
  ASSERT_TRUE(rsa.ok() && other.ok());
  std::string good = rsa.Sign(a_);
  std::string bad = good;
  bad[bad.size() - 5] ^= 0x01;
  log_.AddSignedFile(a_, good, "sha256", "/opt/good");
  log_.AddSignedFile(a_, bad, "sha256", "/opt/tampered");
  log_.AddSignedFile(b_, other.Sign(b_), "sha256", "/opt/unknown-key");
  ImaAppraisal a = Appraise(*Compile(policy_.VerificationKey(rsa.PublicDer()).Json()), log_);
  ASSERT_EQ(a.failures.size(), 2u) << ::testing::PrintToString(Ids(a));
  EXPECT_EQ(a.failures[0].event_id, "ima.validator.ima-sig.invalid_signature");
  EXPECT_EQ(a.failures[0].path, "/opt/tampered");
  EXPECT_NE(a.failures[0].reason.find("does not verify"), std::string::npos);
  EXPECT_EQ(a.failures[1].path, "/opt/unknown-key");
  EXPECT_NE(a.failures[1].reason.find("no key"), std::string::npos);
  EXPECT_EQ(a.summary.signatures_verified, 1u);
  // Keylime's fallback: a signed file whose digest the policy lists passes.
  policy_.Digest("/opt/tampered", FileDigest(a_)).Digest("/opt/unknown-key", FileDigest(b_));
  EXPECT_TRUE(Appraise(*Compile(policy_.Json()), log_).ok());
}

TEST_F(ImaTest, OnePolicyServesConcurrentAppraisals) {
  ImaSigner rsa(dir_.path(), "rsa");
  ASSERT_TRUE(rsa.ok());
  log_.AddSignedFile(a_, rsa.Sign(a_), "sha256", "/opt/signed");
  log_.AddFile(dir_.path() + "/a.sh", "sha256", "/tmp/excluded-by-pattern");
  PolicyPtr p = Compile(policy_.VerificationKey(rsa.PublicDer()).Exclude("/tmp/").Json());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) good += Appraise(*p, log_).ok() ? 1 : 0;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

TEST_F(ImaTest, PcrMismatchTruncatedReorderedFlipped) {
  PolicyPtr p = Compile(policy_.Json());
  const std::string& text = log_.text();
  // Truncated: the quote covers an entry the log no longer has.
  std::string truncated = text.substr(0, log_.Offset(4));
  ImaAppraisal a = Appraise(*p, log_, nullptr, truncated);
  ASSERT_EQ(Ids(a), std::vector<std::string>{"ima.pcr_mismatch"});
  EXPECT_EQ(a.failures[0].entry, 0u);
  EXPECT_FALSE(a.summary.quoted_entries.has_value());
  // Reordered: two entries swapped.
  std::string e2 = text.substr(log_.Offset(2), log_.Offset(3) - log_.Offset(2));
  std::string e3 = text.substr(log_.Offset(3), log_.Offset(4) - log_.Offset(3));
  std::string reordered = text.substr(0, log_.Offset(2)) + e3 + e2 + text.substr(log_.Offset(4));
  EXPECT_EQ(Ids(Appraise(*p, log_, nullptr, reordered)),
            std::vector<std::string>{"ima.pcr_mismatch"});
  // One byte of a path flipped: the entry's template hash and the PCR break.
  std::string flipped = text;
  flipped[log_.Offset(2) + 60] ^= 0x01;
  EXPECT_EQ(Ids(Appraise(*p, log_, nullptr, flipped)),
            (std::vector<std::string>{"ima.validation.ima_hash", "ima.pcr_mismatch"}));
}

TEST_F(ImaTest, LogAheadOfQuote) {
  PolicyPtr p = Compile(policy_.Json());
  std::string quoted = log_.Pcr10("sha256");
  log_.AddFile(a_);
  log_.AddFile(b_);
  AppraiseInput in;
  in.log = log_.text();
  in.pcr10 = quoted;
  Result<ImaAppraisal> a = AppraiseImaLog(*p, nullptr, in);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->ok());
  EXPECT_EQ(a->summary.quoted_entries, 5u);
  EXPECT_EQ(a->state.next_entry, 5u);  // the two newer entries are appraised again next time
  EXPECT_EQ(a->summary.entries_appraised, 7u);
}

TEST_F(ImaTest, QuoteMustCatchUpWithItsLag) {
  PolicyPtr p = Compile(policy_.Json());
  std::string at3 = log_.Pcr10("sha256");  // 5 entries quoted
  log_.AddFile(a_);
  log_.AddFile(b_);  // 7 in the log, the quote lags 2 behind
  AppraiseInput in;
  in.log = log_.text();
  in.pcr10 = at3;
  Result<ImaAppraisal> first = AppraiseImaLog(*p, nullptr, in);
  ASSERT_TRUE(first.ok() && first->ok());
  ASSERT_EQ(first->state.next_entry, 5u);
  log_.AddFile("/bin/ls");
  std::string tail = log_.text().substr(log_.Offset(5));
  // The next quote covers only one more entry: less than the lag of 2.
  std::string lagging = *ReplayPcr10(log_.text().substr(0, log_.Offset(6)), "sha256");
  in.log = tail;
  in.first_entry = 5;
  in.pcr10 = lagging;
  Result<ImaAppraisal> slow = AppraiseImaLog(*p, &first->state, in);
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ(Ids(*slow), std::vector<std::string>{"ima.quote_progress"});
  // Catching up with two entries is progress enough.
  std::string caught = *ReplayPcr10(log_.text().substr(0, log_.Offset(7)), "sha256");
  in.pcr10 = caught;
  Result<ImaAppraisal> ok = AppraiseImaLog(*p, &first->state, in);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok()) << ::testing::PrintToString(Ids(*ok));
}

TEST_F(ImaTest, ViolationEntry) {
  log_.AddViolation(a_);
  PolicyPtr p = Compile(policy_.Json());
  ImaAppraisal a = Appraise(*p, log_);
  ASSERT_EQ(Ids(a), std::vector<std::string>{"ima.validation.tomtou"});
  EXPECT_EQ(a.summary.violations, 1u);
  EXPECT_EQ(a.summary.quoted_entries, 6u);  // 0xFF extended, as the kernel does
  AppraiseOptions ignore;
  ignore.ignore_tomtou_errors = true;
  EXPECT_TRUE(Appraise(*p, log_, nullptr, {}, 0, ignore).ok());
}

TEST_F(ImaTest, UnparsableLineFailsWithItsNumber) {
  PolicyPtr p = Compile(policy_.Json());
  std::string text = log_.text();
  text.insert(log_.Offset(2), "10 zz ima-ng sha256:00 /x\n");
  ImaAppraisal a = Appraise(*p, log_, nullptr, text);
  ASSERT_FALSE(a.failures.empty());
  EXPECT_EQ(a.failures[0].event_id, "ima.parser.entry");
  EXPECT_EQ(a.failures[0].line, 3u);
  EXPECT_NE(a.failures[0].reason.find("line 3"), std::string::npos);
  for (std::string bad : {"10", "10 abc ima-ng", "x 00 ima-ng sha1:00 /a", "10 00 evm-sig a b",
                          "10 00 ima-sig sha256:00 /nosigfield", "10 00 ima-ng sha256:0g /a",
                          "10 00 ima-ng 0000 /bare-digest-of-2-bytes"}) {
    LogEntry e;
    EXPECT_FALSE(ParseLogEntry(bad, &e).ok()) << bad;
  }
}

TEST_F(ImaTest, TemplatesParseAndEncode) {
  LogEntry e;
  // The entry's views point into its line, which must outlive it.
  std::list<std::string> lines;
  auto parse = [&](std::string line) {
    lines.push_back(std::move(line));
    return ParseLogEntry(lines.back(), &e);
  };
  std::string sha1(40, 'a');
  ASSERT_TRUE(parse("10 " + sha1 + " ima " + sha1 + " /init").ok());
  EXPECT_EQ(e.tmpl, Template::kIma);
  std::string data;
  EncodeTemplateData(e, &data);
  EXPECT_EQ(data.size(), 20u + 256u);  // digest + name padded to 256
  EXPECT_EQ(data.substr(20, 6), std::string("/init\0", 6));
  ASSERT_TRUE(parse("10 " + sha1 + " ima-modsig sha256:" + std::string(64, 'b') +
                    " /m  sha256:" + std::string(64, 'c') + " 3082")
                  .ok());
  EncodeTemplateData(e, &data);
  // d-ng (4+6+2+32) + n-ng (4+3) + empty sig (4) + d-modsig (4+6+2+32) + modsig (4+2)
  EXPECT_EQ(data.size(), 44u + 7u + 4u + 44u + 6u);
  ASSERT_TRUE(
      parse("10 " + sha1 + " ima-buf sha256:" + std::string(64, 'b') + " kexec-cmdline 726f6f74")
          .ok());
  EXPECT_EQ(e.buf_hex, "726f6f74");
  // ima-ngv2: the digest's type joins its algorithm in the d-ngv2 prefix.
  ASSERT_TRUE(parse("10 " + sha1 + " ima-ngv2 ima:sha256:" + std::string(64, 'b') + " /v2").ok());
  EXPECT_EQ(e.digest_alg, "sha256");
  EncodeTemplateData(e, &data);
  std::string d32(32, '\xbb');
  EXPECT_EQ(data,
            std::string("\x2c\0\0\0ima:sha256:\0", 16) + d32 + std::string("\x04\0\0\0/v2\0", 8));
  EXPECT_FALSE(parse("10 " + sha1 + " ima-ngv2 sha256:" + std::string(64, 'b') + " /v2").ok());
  // evm-sig: empty evmsig, names with a NUL, uid/gid as 4 bytes, mode as 2.
  ASSERT_TRUE(parse("10 " + sha1 + " evm-sig sha256:" + std::string(64, 'b') +
                    " /e  security.ima 0a000000 0302 0 1000 33261")
                  .ok());
  EncodeTemplateData(e, &data);
  std::string want =
      std::string("\x28\0\0\0sha256:\0", 12) + d32 + std::string("\x03\0\0\0/e\0", 7) +
      std::string("\0\0\0\0", 4) + std::string("\x0d\0\0\0security.ima\0", 17) +
      std::string("\x04\0\0\0\x0a\0\0\0", 8) + std::string("\x02\0\0\0\x03\x02", 6) +
      std::string("\x04\0\0\0\0\0\0\0", 8) + std::string("\x04\0\0\0\xe8\x03\0\0", 8) +
      std::string("\x02\0\0\0\xed\x81", 6);
  EXPECT_EQ(HexEncode(data), HexEncode(want));
  EXPECT_FALSE(parse("10 " + sha1 + " evm-sig sha256:" + std::string(64, 'b') +
                     " /e  security.ima 0a000000 0302 0 1000 99999")
                   .ok());
}

TEST_F(ImaTest, IncrementalAcrossThreeAttestationsAndReboot) {
  PolicyPtr p = Compile(policy_.Json());
  // 1: the whole list.
  ImaAppraisal a1 = Appraise(*p, log_);
  ASSERT_TRUE(a1.ok());
  ASSERT_EQ(a1.state.next_entry, 5u);
  // 2: two new entries, sent from entry 5 as Keylime's ima_ml_entry asks.
  log_.AddFile("/bin/ls");
  log_.AddFile(a_);
  std::string tail = log_.text().substr(log_.Offset(5));
  ImaAppraisal a2 = Appraise(*p, log_, &a1.state, tail, 5);
  ASSERT_TRUE(a2.ok()) << ::testing::PrintToString(Ids(a2));
  EXPECT_EQ(a2.summary.entries_appraised, 2u);
  EXPECT_EQ(a2.state.next_entry, 7u);
  EXPECT_EQ(a2.state.boot_id, a1.state.boot_id);
  // 3: the whole list again with one more entry: the covered prefix is
  // only replayed, the new entry appraised.
  log_.AddFile(b_);
  ImaAppraisal a3 = Appraise(*p, log_, &a2.state);
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(a3.summary.entries_skipped, 7u);
  EXPECT_EQ(a3.summary.entries_appraised, 1u);
  EXPECT_FALSE(a3.summary.reboot_detected);
  EXPECT_EQ(a3.state.next_entry, 8u);
  // A partial log that leaves a gap is the caller's mistake.
  AppraiseInput gap;
  gap.log = tail;
  gap.first_entry = 9;
  std::string pcr = log_.Pcr10("sha256");
  gap.pcr10 = pcr;
  EXPECT_FALSE(AppraiseImaLog(*p, &a3.state, gap).ok());
  // Reboot: a new list with the same boot_aggregate but other files.
  ImaLogBuilder rebooted;
  rebooted.BootAggregate();
  rebooted.AddFile(b_);
  rebooted.AddFile(a_);
  ImaAppraisal a4 = Appraise(*p, rebooted, &a3.state);
  EXPECT_TRUE(a4.ok()) << ::testing::PrintToString(Ids(a4));
  EXPECT_TRUE(a4.summary.reboot_detected);
  EXPECT_EQ(a4.summary.entries_appraised, 3u);
  EXPECT_EQ(a4.state.next_entry, 3u);
  // A TPM reset seen in the quote while the agent sends a partial list:
  // the list must be sent whole, the state starts over.
  AppraiseInput after_reset;
  std::string part = rebooted.text().substr(rebooted.Offset(1));
  after_reset.log = part;
  after_reset.first_entry = 1;
  std::string pcr2 = rebooted.Pcr10("sha256");
  after_reset.pcr10 = pcr2;
  after_reset.boot_marker = 7;
  ImaState with_count = a4.state;
  with_count.boot_marker = 6;
  Result<ImaAppraisal> a5 = AppraiseImaLog(*p, &with_count, after_reset);
  ASSERT_TRUE(a5.ok());
  EXPECT_EQ(Ids(*a5), std::vector<std::string>{"ima.pcr_mismatch"});
  EXPECT_EQ(a5->state.next_entry, 0u);
}

TEST_F(ImaTest, KeyringLearnedFromImaBuf) {
  ImaSigner signer(dir_.path(), "rsa");
  ASSERT_TRUE(signer.ok());
  std::string cert = signer.CertificateDer();
  log_.AddBuffer(".ima", cert);
  log_.AddSignedFile(a_, signer.Sign(a_), "sha256", "/usr/lib/app");
  // The key is not in the policy, but .ima's key entry is accepted: learned.
  policy_.Keyring(".ima", FileDigestOf(cert));
  PolicyPtr p = Compile(policy_.Json());
  ImaAppraisal a = Appraise(*p, log_);
  ASSERT_TRUE(a.ok()) << ::testing::PrintToString(Ids(a));
  EXPECT_EQ(a.summary.keys_learned, 1u);
  ASSERT_EQ(a.state.learned_keys.size(), 1u);
  // The learned key outlives this attestation.
  log_.AddSignedFile(b_, signer.Sign(b_), "sha256", "/usr/lib/app2");
  std::string tail = log_.text().substr(log_.Offset(7));
  ImaAppraisal next = Appraise(*p, log_, &a.state, tail, 7);
  EXPECT_TRUE(next.ok()) << ::testing::PrintToString(Ids(next));
  EXPECT_EQ(next.state.learned_keys, a.state.learned_keys);
  // Without the keyring digest the key is refused and not learned.
  ImaPolicyBuilder without;
  without.Digest("boot_aggregate", FileDigestOf("boot"));
  ImaAppraisal refused = Appraise(*Compile(without.Json()), log_);
  EXPECT_EQ(refused.summary.keys_learned, 0u);
  bool saw = false;
  for (const ImaFailure& f : refused.failures) saw |= f.path == ".ima";
  EXPECT_TRUE(saw);
  // An ignored keyring passes without teaching the key.
  policy_.IgnoreKeyring("*");
  ImaAppraisal ignored = Appraise(*Compile(policy_.Json()), log_);
  EXPECT_EQ(ignored.summary.keys_learned, 0u);
  EXPECT_EQ(Ids(ignored), (std::vector<std::string>{"ima.validator.ima-sig.invalid_signature",
                                                    "ima.validator.ima-sig.invalid_signature"}));
}

TEST_F(ImaTest, StateRoundTripsAsJsonAndClaims) {
  ImaSigner signer(dir_.path(), "ec");
  ASSERT_TRUE(signer.ok());
  std::string cert = signer.CertificateDer();
  log_.AddBuffer(".ima", cert);
  policy_.Keyring(".ima", FileDigestOf(cert));
  ImaAppraisal a = Appraise(*Compile(policy_.Json()), log_);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(Ar4siExecutables(a), 2);
  a.state.boot_marker = 42;
  std::string json = SerializeImaState(a.state);
  Result<ImaState> back = ParseImaState(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << json;
  EXPECT_EQ(*back, a.state);
  EXPECT_FALSE(ParseImaState("{}").ok());
  EXPECT_FALSE(ParseImaState(json.substr(0, json.size() / 2)).ok());
  // Claims for failures.
  ImaAppraisal f;
  f.failures.push_back({"ima.validation.ima-ng.not_in_allowlist", "/x", 1, 2, ""});
  EXPECT_EQ(Ar4siExecutables(f), 33);
  f.failures.push_back({"ima.validator.ima-sig.invalid_signature", "/y", 2, 3, ""});
  EXPECT_EQ(Ar4siExecutables(f), 96);
  f.failures.push_back({"ima.pcr_mismatch", "", 0, 0, ""});
  EXPECT_EQ(Ar4siExecutables(f), 99);
}

TEST_F(ImaTest, ImaBufAgainstPolicy) {
  log_.AddBuffer("kexec-cmdline", "root=/dev/sda1 ro");
  ImaAppraisal a = Appraise(*Compile(policy_.Json()), log_);
  EXPECT_EQ(Ids(a), std::vector<std::string>{"ima.validation.ima-ng.not_in_allowlist"});
  policy_.ImaBuf("kexec-cmdline", FileDigestOf("root=/dev/sda1 ro"));
  EXPECT_TRUE(Appraise(*Compile(policy_.Json()), log_).ok());
}

TEST_F(ImaTest, LegacyAllowlist) {
  std::string flat;
  flat += HexEncode(FileDigestOf("boot")) + "  boot_aggregate\n";
  for (const std::string& f : {std::string("/bin/ls"), std::string("/bin/true"), a_}) {
    flat += HexEncode(FileDigest(f)) + "  " + f + "\n";
  }
  std::string excludes = "# temporary files\n" + dir_.path() + "/b\\.conf\n\n";
  Result<PolicyPtr> p = CompileAllowlist(flat, excludes);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(Appraise(**p, log_).ok());
  EXPECT_FALSE(Appraise(**CompileAllowlist(flat, ""), log_).ok());
  // The old JSON allowlist.
  std::string json = "{\"meta\": {\"version\": 1}, \"hashes\": {\"boot_aggregate\": [\"" +
                     HexEncode(FileDigestOf("boot")) + "\"]";
  for (const std::string& f : {std::string("/bin/ls"), std::string("/bin/true"), a_, b_}) {
    json += ", \"" + f + "\": [\"" + HexEncode(FileDigest(f)) + "\"]";
  }
  json += "}}";
  Result<PolicyPtr> pj = CompileAllowlist(json, "");
  ASSERT_TRUE(pj.ok()) << pj.status().ToString();
  EXPECT_TRUE(Appraise(**pj, log_).ok());
  EXPECT_NE((*pj)->id(), (*p)->id());
}

TEST_F(ImaTest, DsseEnvelopeIsUnwrapped) {
  std::string inner = policy_.Json();
  std::string envelope = "{\"payload\": \"" + Base64Encode(inner) +
                         "\", \"payloadType\": \"application/vnd.keylime+json\", "
                         "\"signatures\": []}";
  PolicyPtr p = Compile(envelope);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(Appraise(*p, log_).ok());
  EXPECT_NE(p->id(), Compile(inner)->id());  // the identity is the text received
}

TEST_F(ImaTest, PolicyRefusals) {
  Result<PolicyPtr> dm = CompileRuntimePolicy(policy_.DmPolicy("{\"table\": []}").Json());
  ASSERT_FALSE(dm.ok());
  EXPECT_NE(dm.status().message().find("ima.dm_policy"), std::string::npos);
  for (std::string bad :
       {std::string("[]"), std::string("{\"digests\": {\"/a\": [\"xyz\"]}}"),
        std::string("{\"excludes\": [\"(?=lookahead)\"]}"),
        std::string("{\"meta\": {\"version\": 2}}"),
        std::string("{\"ima\": {\"log_hash_alg\": \"md5\"}}"),
        std::string("{\"verification-keys\": \"{\\\"pubkeys\\\": [\\\"AAAA\\\"]}\"}")}) {
    EXPECT_FALSE(CompileRuntimePolicy(bad).ok()) << bad;
  }
  EXPECT_FALSE(CompileRuntimePolicy("{}", {"not a key"}).ok());
  Result<PolicyPtr> empty = CompileRuntimePolicy("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)->log_hash_alg().name, std::string("sha1"));
}

TEST_F(ImaTest, TwentyMebibytePolicy) {
  // ~20 MiB of digests for made-up paths, plus the real files.
  std::string json = "{\"meta\": {\"version\": 1}, \"digests\": {";
  char path[64];
  size_t i = 0;
  while (json.size() < (20u << 20)) {
    std::snprintf(path, sizeof path, "/usr/lib/generated/%08zu/lib.so", i);
    json += "\"" + std::string(path) + "\": [\"" + HexEncode(FileDigestOf(path)) + "\"], ";
    ++i;
  }
  json += "\"boot_aggregate\": [\"" + HexEncode(FileDigestOf("boot")) + "\"]";
  for (const std::string& f : {std::string("/bin/ls"), std::string("/bin/true"), a_, b_}) {
    json += ", \"" + f + "\": [\"" + HexEncode(FileDigest(f)) + "\"]";
  }
  json += "}, \"excludes\": [\"/proc/.*\", \"/sys/.*\"]}";
  PolicyPtr p = Compile(json);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->table(DigestTable::kDigests).names(), i + 5);
  EXPECT_GT(p->approx_bytes(), 10u << 20);
  std::printf("[   INFO   ] %zu-byte policy, %zu paths, compiled ~%zu bytes\n", json.size(), i + 5,
              p->approx_bytes());
  EXPECT_TRUE(Appraise(*p, log_).ok());
}

}  // namespace
}  // namespace attestd
