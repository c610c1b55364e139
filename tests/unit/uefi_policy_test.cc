// Keylime's example measured-boot policy over real logs: a refstate made
// from a log passes that log; tampering with the log, the refstate or the
// quote fails with the failure id of the check that caught it.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "verifiers/uefi/eventlog.h"
#include "verifiers/uefi/eventlog_decode.h"
#include "verifiers/uefi/mb_policy.h"
#include "verifiers/uefi/mb_refstate.h"
#include "verifiers/uefi/replay.h"

namespace attestd::uefi {
namespace {

std::string ReadLog(const std::string& name) {
  std::ifstream in(std::string(ATTESTD_SOURCE_DIR) + "/tests/data/eventlogs/" + name,
                   std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

// A quote of every PCR of every bank, as the machine that wrote `bytes`
// would give it.
QuotedPcrs QuoteOf(const std::string& bytes) {
  QuotedPcrs q;
  auto log = ParseEventLog(bytes);
  EXPECT_TRUE(log.ok());
  if (!log.ok()) return q;
  auto replay = ReplayLog(*log);
  for (const PcrBank& b : replay->banks) {
    for (uint32_t p = 0; p < kNumPcrs; ++p) q[AlgName(b.alg)][p] = std::string(b.Value(p));
  }
  return q;
}

std::string RefstateOf(const std::string& bytes, bool without_secureboot = false) {
  auto log = ParseEventLog(bytes);
  EXPECT_TRUE(log.ok());
  auto ref = RefStateFromLog(*log, without_secureboot);
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  return ref.ok() ? *ref : "";
}

std::multiset<std::string> Ids(const MeasuredBootResult& r) {
  std::multiset<std::string> ids;
  for (const Failure& f : r.failures) ids.insert(f.id);
  return ids;
}

std::string Describe(const MeasuredBootResult& r) {
  std::string s;
  for (const Failure& f : r.failures) s += f.id + ": " + f.detail + "\n";
  return s;
}

MeasuredBootResult Appraise(const std::string& log, const std::string& ref,
                            const QuotedPcrs& quoted) {
  auto r = AppraiseMeasuredBoot(log, ref, quoted);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : MeasuredBootResult{};
}

// The event of `log` at `index`: where its data starts in the log bytes.
size_t DataOffset(const std::string& bytes, uint32_t index) {
  auto log = ParseEventLog(bytes);
  return static_cast<size_t>(log->events[index].data.data() - bytes.data());
}

// `bytes` without event `index`.
std::string DropEvent(const std::string& bytes, uint32_t index) {
  auto log = ParseEventLog(bytes);
  size_t begin = log->events[index].offset;
  size_t end = index + 1 < log->events.size() ? log->events[index + 1].offset : bytes.size();
  return bytes.substr(0, begin) + bytes.substr(end);
}

// The index of the first event of `type` in `pcr` whose text contains `part`.
uint32_t Find(const std::string& bytes, uint32_t pcr, uint32_t type, std::string_view part = "") {
  auto log = ParseEventLog(bytes);
  for (const Event& e : log->events) {
    if (e.pcr == pcr && e.type == type && EventText(e.data).find(part) != std::string::npos) {
      return e.index;
    }
  }
  ADD_FAILURE() << "no such event";
  return 0;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

class SecureBootLog : public ::testing::Test {
 protected:
  std::string log_ = ReadLog("event-moklisttrusted.bin");
  std::string ref_ = RefstateOf(log_);
  QuotedPcrs quote_ = QuoteOf(log_);
};

TEST_F(SecureBootLog, RefstateFromTheLogPasses) {
  MeasuredBootResult r = Appraise(log_, ref_, quote_);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(r.summary.secure_boot.value_or(false));
}

TEST_F(SecureBootLog, FlippedVariableDataFails) {
  std::string bad = log_;
  uint32_t db = 7;  // EV_EFI_VARIABLE_DRIVER_CONFIG db
  bad[DataOffset(bad, db) + 200] ^= 1;
  MeasuredBootResult r = Appraise(bad, ref_, quote_);
  auto ids = Ids(r);
  EXPECT_EQ(ids.count("measured_boot.digest_mismatch"), 1u) << Describe(r);
  EXPECT_EQ(ids.count("measured_boot.db"), 1u) << Describe(r);
  EXPECT_EQ(ids.size(), 2u) << Describe(r);
  EXPECT_EQ(r.failures[0].event_index, 7);
  EXPECT_EQ(r.failures[0].bank, "sha256");
}

TEST_F(SecureBootLog, DroppedEventFailsThePcrComparison) {
  std::string bad = DropEvent(log_, Find(log_, 14, kEvIpl, "MokListX"));
  MeasuredBootResult r = Appraise(bad, ref_, quote_);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.pcr_mismatch");
  EXPECT_EQ(r.failures[0].bank, "sha256");
  EXPECT_EQ(r.failures[0].pcr, 14);
}

TEST_F(SecureBootLog, DroppedKernelCommandLineFails) {
  std::string bad = DropEvent(log_, Find(log_, 8, kEvIpl, "kernel_cmdline: "));
  auto ids = Ids(Appraise(bad, ref_, quote_));
  EXPECT_EQ(ids.count("measured_boot.kernel_cmdline"), 1u);
  EXPECT_EQ(ids.count("measured_boot.pcr_mismatch"), 1u);
  EXPECT_EQ(ids.size(), 2u);
}

TEST_F(SecureBootLog, OrderingRulesBeyondKeylime) {
  // Without PCR 7's separator, the authorities come "before" it.
  std::string bad = DropEvent(log_, Find(log_, 7, kEvSeparator));
  auto ids = Ids(Appraise(bad, ref_, quote_));
  EXPECT_EQ(ids.count("measured_boot.separator_order"), 1u);
  EXPECT_EQ(ids.count("measured_boot.secureboot_order"),
            4u);  // db, SbatLevel, MokListTrusted, Shim
  EXPECT_EQ(ids.count("measured_boot.pcr_mismatch"), 1u);
  // A Secure Boot variable measured after the separator.
  auto log = ParseEventLog(log_);
  const Event& pk = log->events[5];
  const Event& sep = log->events[Find(log_, 7, kEvSeparator)];
  std::string pk_bytes = log_.substr(pk.offset, log->events[6].offset - pk.offset);
  std::string moved = log_.substr(0, pk.offset) +
                      log_.substr(log->events[6].offset,
                                  log->events[sep.index + 1].offset - log->events[6].offset) +
                      pk_bytes + log_.substr(log->events[sep.index + 1].offset);
  ASSERT_EQ(moved.size(), log_.size());
  MeasuredBootResult r = Appraise(moved, ref_, quote_);
  ids = Ids(r);
  EXPECT_EQ(ids.count("measured_boot.secureboot_order"), 1u) << Describe(r);
  EXPECT_EQ(ids.count("measured_boot.pcr_mismatch"), 1u) << Describe(r);  // PCR 7's order changed
  EXPECT_EQ(ids.size(), 2u) << Describe(r);
}

TEST_F(SecureBootLog, ChangedKernelCommandLineFails) {
  // In the log (same length, so only the policy notices, not the framing)…
  std::string bad = log_;
  uint32_t cmd = Find(log_, 8, kEvIpl, "kernel_cmdline: ");
  size_t at = DataOffset(bad, cmd) + std::string("kernel_cmdline: ").size();
  bad[at] = bad[at] == 'X' ? 'Y' : 'X';
  MeasuredBootResult r = Appraise(bad, ref_, quote_);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.kernel_cmdline");
  // …and in the refstate.
  std::string ref = Replace(ref_, "\"kernel_cmdline\":\"", "\"kernel_cmdline\":\"quiet ");
  r = Appraise(log_, ref, quote_);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.kernel_cmdline");
}

TEST_F(SecureBootLog, DbxMustNotShrink) {
  std::string ref = Replace(ref_, "\"dbx\":[",
                            "\"dbx\":[{\"SignatureOwner\":\"77fa9abd-0359-4d32-bd60-28f4e78f784b\","
                            "\"SignatureData\":\"0x" +
                                std::string(64, 'a') + "\"},");
  MeasuredBootResult r = Appraise(log_, ref, quote_);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.dbx");
  EXPECT_EQ(r.failures[0].pcr, 7);
}

TEST_F(SecureBootLog, KeyNotInTheRefstateFails) {
  // The refstate's PK entry changed: the log's PK is no longer allowed.
  auto ref = ParseRefState(ref_);
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(ref->pk.size(), 1u);
  std::string owner = ref->pk[0].owner;
  std::string other = Replace(ref_, "{\"SignatureOwner\":\"" + owner,
                              "{\"SignatureOwner\":\"00000000-0000-0000-0000-000000000000");
  MeasuredBootResult r = Appraise(log_, other, quote_);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.pk");
}

TEST_F(SecureBootLog, LogFromAnotherMachineFails) {
  std::string other = ReadLog("event-postcode.bin");
  auto ids = Ids(Appraise(other, ref_, QuoteOf(other)));
  for (const char* id : {"measured_boot.scrtm_and_bios", "measured_boot.pk", "measured_boot.db",
                         "measured_boot.dbx", "measured_boot.boot_applications",
                         "measured_boot.initrd", "measured_boot.kernel_cmdline"}) {
    EXPECT_EQ(ids.count(id), 1u) << id;
  }
  std::string gce = ReadLog("event-gce-ubuntu-2104-log.bin");
  ids = Ids(Appraise(gce, ref_, QuoteOf(gce)));
  EXPECT_EQ(ids.count("measured_boot.secureboot"), 1u);
  EXPECT_EQ(ids.count("measured_boot.unexpected_event"), 1u);  // EV_NONHOST_INFO in PCR 0
  EXPECT_EQ(ids.count("measured_boot.pcr_mismatch"), 0u);
}

TEST_F(SecureBootLog, QuoteMissingAPolicyPcrFails) {
  QuotedPcrs q = quote_;
  q["sha256"].erase(14);
  MeasuredBootResult r = Appraise(log_, ref_, q);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.missing_pcrs");
  EXPECT_EQ(r.failures[0].pcr, 14);
  // A quote of another bank only: nothing in common with this sha256 log.
  r = Appraise(log_, ref_, QuotedPcrs{{"sha1", {{0, std::string(20, '\0')}}}});
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.missing_pcrs");
}

TEST_F(SecureBootLog, WrongQuotedPcrIsNamed) {
  QuotedPcrs q = quote_;
  q["sha256"][4][0] ^= 1;
  MeasuredBootResult r = Appraise(log_, ref_, q);
  ASSERT_EQ(r.failures.size(), 1u) << Describe(r);
  EXPECT_EQ(r.failures[0].id, "measured_boot.pcr_mismatch");
  EXPECT_EQ(r.failures[0].pcr, 4);
  EXPECT_EQ(r.failures[0].bank, "sha256");
}

TEST_F(SecureBootLog, MalformedLogIsAParserFailure) {
  MeasuredBootResult r = Appraise(log_.substr(0, log_.size() - 3), ref_, quote_);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].id, "measured_boot.parser");
  EXPECT_NE(r.failures[0].detail.find("at offset 0x"), std::string::npos);
}

TEST(UefiRefstate, UnevaluablePolicyNamesTheField) {
  std::string ref = RefstateOf(ReadLog("event-moklisttrusted.bin"));
  struct Case {
    std::string from, to, field;
  };
  const Case cases[] = {
      {"\"mokdig\":", "\"mokdig_\":", "refstate.mokdig: missing"},
      {"\"kernels\":", "\"kernels_\":", "refstate.kernels: missing"},
      {"\"shim_authcode_sha256\":\"0x", "\"shim_authcode_sha256\":\"0xA",
       "refstate.kernels[0].shim_authcode_sha256"},
      {"\"kernel_cmdline\":\"", "\"kernel_cmdline\":\"(", "refstate.kernels[0].kernel_cmdline"},
      {"\"has_secureboot\":true", "\"has_secureboot\":false",
       "refstate.kernels[0].vmlinuz_plain_sha256: missing"},
      {"\"scrtm\":{\"sha256\":\"0x", "\"scrtm\":{\"sha256\":\"",
       "refstate.scrtm_and_bios[0].scrtm.sha256"},
      {"\"SignatureData\":\"0x", "\"SignatureData\":\"", "refstate.pk[0].SignatureData"},
  };
  for (const Case& c : cases) {
    auto r = ParseRefState(Replace(ref, c.from, c.to));
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
    auto a = AppraiseMeasuredBoot("", Replace(ref, c.from, c.to), {});
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ParseRefState("[]").ok());
  EXPECT_FALSE(ParseRefState("{").ok());
}

TEST(UefiRefstate, GeneratorFollowsCreateMbPolicy) {
  // Secure Boot off: refused unless asked for, then shim + grub + vmlinuz.
  std::string bootorder = ReadLog("event-bootorder.bin");
  auto log = ParseEventLog(bootorder);
  ASSERT_TRUE(log.ok());
  EXPECT_FALSE(RefStateFromLog(*log, false).ok());
  std::string ref = RefstateOf(bootorder, true);
  auto parsed = ParseRefState(ref);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_FALSE(parsed->has_secureboot);
  ASSERT_EQ(parsed->kernels.size(), 1u);
  EXPECT_EQ(parsed->kernels[0].vmlinuz_plain_sha256.size(), 64u);
  MeasuredBootResult r = Appraise(bootorder, ref, QuoteOf(bootorder));
  EXPECT_TRUE(r.ok()) << Describe(r);
  // GCE booted no initrd the policy can see: like create_mb_policy, the
  // generator leaves the field out and the refstate cannot be evaluated.
  std::string gce = ReadLog("event-gce-ubuntu-2104-log.bin");
  auto gce_ref = ParseRefState(RefstateOf(gce, true));
  ASSERT_FALSE(gce_ref.ok());
  EXPECT_NE(gce_ref.status().message().find("initrd_plain_sha256"), std::string::npos);
}

TEST(UefiRefstate, RegexEscapeIsPythons) {
  EXPECT_EQ(RegexEscape("BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14 root=/dev/sda1 ro"),
            "BOOT_IMAGE=\\(hd0,gpt2\\)/vmlinuz\\-5\\.14\\ root=/dev/sda1\\ ro");
  std::regex re("kernel_cmdline: " + RegexEscape("a+b [x] $HOME ~#&|"));
  EXPECT_TRUE(std::regex_match(std::string("kernel_cmdline: a+b [x] $HOME ~#&|"), re));
}

}  // namespace
}  // namespace attestd::uefi
