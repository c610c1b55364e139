// The IMA replay against a real TPM: a software TPM's PCR 10 is extended in
// step with a measurement list of real files (the builder's extend hook),
// then read back with tpm2_pcrread and quoted; the appraisal must find the
// TPM's value by replaying the list, in the sha1 and sha256 banks.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/base64.h"
#include "tests/support/ima_log.h"
#include "tests/support/swtpm.h"
#include "verifiers/ima/ima_appraisal.h"
#include "verifiers/tpm/pcrblob.h"

namespace attestd {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ImaSwtpm, ReplayMatchesTpmPcr10) {
  testing::Swtpm tpm;
  ASSERT_TRUE(tpm.ok()) << "swtpm did not start";
  testing::ImaLogBuilder log({"sha1", "sha256"});
  bool extended = true;
  log.SetExtendHook([&](const std::string& bank, const std::string& value) {
    extended &= tpm.Extend(10, bank, HexEncode(value));
  });
  testing::ImaPolicyBuilder policy;
  log.BootAggregate();
  for (const char* f : {"/bin/ls", "/bin/true", "/bin/sh"}) policy.Digest(f, log.AddFile(f));
  log.AddViolation("/var/log/open-for-write");
  ASSERT_TRUE(extended);

  for (const char* bank : {"sha1", "sha256"}) {
    std::string out = tpm.dir() + "/pcr10-" + bank;
    ASSERT_EQ(tpm.Run({"tpm2_pcrread", std::string(bank) + ":10", "-o", out}), 0);
    std::string pcr = ReadAll(out);
    EXPECT_EQ(HexEncode(pcr), HexEncode(log.Pcr10(bank))) << bank;
    Result<std::string> replayed = ima::ReplayPcr10(log.text(), bank);
    ASSERT_TRUE(replayed.ok());
    EXPECT_EQ(HexEncode(*replayed), HexEncode(pcr)) << bank;
  }

  // The quoted value, from a real quote's PCR blob.
  std::optional<testing::TpmQuote> q = tpm.Quote("rsa", "ima-nonce", "sha256:10");
  ASSERT_TRUE(q.has_value());
  Result<tpm::PcrBlob> blob = tpm::ParsePcrBlob(q->pcrblob);
  ASSERT_TRUE(blob.ok());
  ASSERT_EQ(blob->values.size(), 1u);
  Result<ima::PolicyPtr> p = ima::CompileRuntimePolicy(policy.Json());
  ASSERT_TRUE(p.ok());
  ima::AppraiseInput in;
  in.log = log.text();
  in.pcr10 = blob->values[0].digest;
  ima::AppraiseOptions opt;
  opt.ignore_tomtou_errors = true;
  Result<ima::ImaAppraisal> a = ima::AppraiseImaLog(**p, nullptr, in, opt);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->summary.quoted_entries, 5u);
  for (const ima::ImaFailure& f : a->failures) {
    EXPECT_NE(f.event_id, "ima.pcr_mismatch") << f.reason;
  }
}

}  // namespace
}  // namespace attestd
