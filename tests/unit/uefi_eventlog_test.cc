// The UEFI event log parser and replay against real logs, with tpm2-tools'
// tpm2_eventlog as the oracle: Debian's 5.4 run at test time, and the 5.8
// output stored next to each log.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/base64.h"
#include "tests/support/tpm2_eventlog_yaml.h"
#include "verifiers/tpm/tpm_structures.h"
#include "verifiers/uefi/eventlog.h"
#include "verifiers/uefi/eventlog_decode.h"
#include "verifiers/uefi/replay.h"
#include "verifiers/uefi/summary.h"

namespace attestd::uefi {
namespace {

const char* const kLogs[] = {
    "event-arch-linux.bin",     "event-bootorder.bin",  "event-gce-ubuntu-2104-log.bin",
    "event-moklisttrusted.bin", "event-postcode.bin",   "event-sd-boot-fedora37.bin",
    "event-uefi-sha1-log.bin",  "event-uefiaction.bin", "event-uefiservices.bin",
    "event-uefivar.bin",
};

std::string DataPath(const std::string& name) {
  return std::string(ATTESTD_SOURCE_DIR) + "/tests/data/eventlogs/" + name;
}

std::string ReadData(const std::string& name) {
  std::ifstream in(DataPath(name), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

// tpm2_eventlog's view of the log: "5.4" runs Debian's binary, "5.8" reads
// the stored output.
testing::EventlogYaml Oracle(const std::string& name, const std::string& version) {
  if (version == "5.8") return testing::ParseEventlogYaml(ReadData(name + ".tpm2_eventlog.yaml"));
  auto out = testing::RunTpm2Eventlog(DataPath(name));
  EXPECT_TRUE(out.has_value()) << "tpm2_eventlog failed on " << name;
  return testing::ParseEventlogYaml(out.value_or(""));
}

class RealLogs : public ::testing::TestWithParam<const char*> {};

TEST_P(RealLogs, ReplayEqualsTpm2EventlogBankByBank) {
  std::string bytes = ReadData(GetParam());
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto replay = ReplayLog(*log);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->mismatches.empty()) << replay->mismatches.size() << " digest mismatches";
  for (const char* version : {"5.4", "5.8"}) {
    testing::EventlogYaml oracle = Oracle(GetParam(), version);
    ASSERT_FALSE(oracle.pcrs.empty()) << version;
    std::map<std::string, std::map<int, std::string>> ours;
    for (const PcrBank& b : replay->banks) {
      for (uint32_t p = 0; p < kNumPcrs; ++p) {
        if (b.Extended(p)) ours[AlgName(b.alg)][p] = HexEncode(b.Value(p));
      }
    }
    EXPECT_EQ(ours, oracle.pcrs) << "tpm2_eventlog " << version;
    EXPECT_EQ(oracle.events.size(), log->events.size()) << version;
  }
}

TEST_P(RealLogs, EventsAgreeWithTpm2Eventlog) {
  std::string bytes = ReadData(GetParam());
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  testing::EventlogYaml y54 = Oracle(GetParam(), "5.4");
  testing::EventlogYaml y58 = Oracle(GetParam(), "5.8");
  ASSERT_EQ(y54.events.size(), log->events.size());
  ASSERT_EQ(y58.events.size(), log->events.size());
  int variables = 0, apps = 0;
  for (const Event& e : log->events) {
    const testing::YamlEvent& a = y54.events[e.index];
    const testing::YamlEvent& b = y58.events[e.index];
    SCOPED_TRACE("event " + std::to_string(e.index));
    EXPECT_EQ(a.First("PCRIndex"), std::to_string(e.pcr));
    EXPECT_EQ(a.First("EventType"), std::string(EventTypeName(e.type)));
    if (!(log->crypto_agile && e.index == 0)) {
      std::vector<std::string> digests;
      for (size_t i = 0; i < log->banks.size(); ++i) {
        if (!e.digests[i].empty()) digests.push_back(HexEncode(e.digests[i]));
      }
      EXPECT_EQ(a.All("Digest"), digests);
    }
    if (e.type == kEvEfiVariableDriverConfig || e.type == kEvEfiVariableAuthority ||
        e.type == kEvEfiVariableBoot) {
      ++variables;
      auto v = DecodeVariable(e.data);
      ASSERT_TRUE(v.ok());
      EXPECT_EQ(a.First("VariableName"), v->vendor.ToString());
      EXPECT_EQ(a.First("UnicodeName"), v->name);
      if (v->name == "SecureBoot") {
        // 5.8 decodes it; 5.4 prints the byte or the decoded form.
        auto enabled = b.First("Enabled");
        if (enabled) {
          EXPECT_EQ(*enabled, SecureBootEnabled(v->data).value() ? "Yes" : "No");
        }
      }
      if (e.type == kEvEfiVariableDriverConfig &&
          (v->name == "PK" || v->name == "KEK" || v->name == "db" || v->name == "dbx")) {
        auto lists = DecodeSignatureLists(v->data);
        ASSERT_TRUE(lists.ok()) << lists.status().ToString();
        std::vector<std::string> owners, types, data;
        for (const SignatureList& l : *lists) {
          types.push_back(l.type.ToString());
          for (const SignatureData& s : l.signatures) {
            owners.push_back(s.owner.ToString());
            data.push_back(HexEncode(s.data));
          }
        }
        if (!b.All("SignatureType").empty() || lists->empty()) {
          EXPECT_EQ(b.All("SignatureType"), types);
          EXPECT_EQ(b.All("SignatureOwner"), owners);
          EXPECT_EQ(b.All("SignatureData"), data);
        }
        // 5.4 prints the raw data as hex when it does not decode lists.
        auto raw = a.First("VariableData");
        if (raw && !raw->empty()) {
          EXPECT_EQ(*raw, HexEncode(v->data));
        }
      }
    }
    if (e.type == kEvEfiBootServicesApplication) {
      ++apps;
      auto img = DecodeImageLoad(e.data, log->spec.uintn_size == 1);
      ASSERT_TRUE(img.ok());
      char loc[32];
      std::snprintf(loc, sizeof(loc), "0x%llx", static_cast<unsigned long long>(img->location));
      EXPECT_EQ(a.First("ImageLocationInMemory"), std::string(loc));
      EXPECT_EQ(a.First("ImageLengthInMemory"), std::to_string(img->length));
      EXPECT_EQ(a.First("LengthOfDevicePath"), std::to_string(img->device_path.size()));
      if (!img->device_path.empty()) {
        EXPECT_EQ(a.First("DevicePath"), HexEncode(img->device_path));
        auto text = DevicePathToText(img->device_path);
        ASSERT_TRUE(text.ok());
        // efivar (behind tpm2-tools 5.8) prints IPv4 nodes garbled
        // ("IPv4(0.0.0.00.0.0.0,0,0)"): compare up to such a node.
        std::string theirs = b.First("DevicePath").value_or("");
        size_t ipv4 = theirs.find("/IPv4(");
        if (ipv4 != std::string::npos) {
          EXPECT_EQ(text->substr(0, ipv4), theirs.substr(0, ipv4));
        } else {
          EXPECT_EQ(theirs, *text);
        }
      }
    }
  }
  std::string name = GetParam();
  if (name == "event-gce-ubuntu-2104-log.bin" || name == "event-moklisttrusted.bin") {
    EXPECT_GT(variables, 5);
    EXPECT_GE(apps, 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Tpm2ToolsFixtures, RealLogs, ::testing::ValuesIn(kLogs),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(6, n.size() - 10);  // event-….bin
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(UefiEventLog, GceHeaderAndBanks) {
  std::string bytes = ReadData("event-gce-ubuntu-2104-log.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(log->crypto_agile);
  ASSERT_EQ(log->banks.size(), 3u);
  EXPECT_EQ(log->banks[0].alg, kAlgSha1);
  EXPECT_EQ(log->banks[1].alg, kAlgSha256);
  EXPECT_EQ(log->banks[2].alg, kAlgSha384);
  EXPECT_EQ(log->spec.uintn_size, 2);
  EXPECT_EQ(log->events[1].type, kEvSCrtmVersion);
  EXPECT_EQ(EventText(log->events[1].data), "GCE Virtual Firmware v1");
}

TEST(UefiEventLog, Sha1LogIsNotCryptoAgile) {
  std::string bytes = ReadData("event-uefi-sha1-log.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  EXPECT_FALSE(log->crypto_agile);
  ASSERT_EQ(log->banks.size(), 1u);
  EXPECT_EQ(log->banks[0].alg, kAlgSha1);
}

TEST(UefiEventLog, SummaryOfSecureBootLog) {
  std::string bytes = ReadData("event-moklisttrusted.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  BootSummary s = Summarize(*log);
  ASSERT_TRUE(s.secure_boot.has_value());
  EXPECT_TRUE(*s.secure_boot);
  EXPECT_FALSE(s.pk_owners.empty());
  EXPECT_FALSE(s.kek_owners.empty());
  EXPECT_FALSE(s.db_owners.empty());
  ASSERT_EQ(s.boot_applications.size(), 4u);
  EXPECT_NE(s.boot_applications[0].device_path.find("File(\\EFI\\redhat\\shimx64.efi)"),
            std::string::npos);
  EXPECT_EQ(s.boot_applications[0].digests[0].first, "sha256");
  ASSERT_TRUE(s.kernel_cmdline.has_value());
  EXPECT_NE(s.kernel_cmdline->find("root="), std::string::npos) << *s.kernel_cmdline;
}

TEST(UefiEventLog, SummaryOfGce) {
  std::string bytes = ReadData("event-gce-ubuntu-2104-log.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  BootSummary s = Summarize(*log);
  ASSERT_TRUE(s.secure_boot.has_value());
  EXPECT_FALSE(*s.secure_boot);
  ASSERT_EQ(s.boot_applications.size(), 2u);
  EXPECT_EQ(s.boot_applications[1].device_path, "File(\\EFI\\ubuntu\\grubx64.efi)");
  ASSERT_EQ(s.boot_applications[1].digests.size(), 3u);
  EXPECT_EQ(HexEncode(s.boot_applications[1].digests[1].second),
            "b0a836fec2faf4a9bea0e1a5f1945bc86ddc03ac98ce0ae172ed9b1e536d7595");
}

TEST(UefiEventLogDecode, PayloadsOfRealLogs) {
  std::string postcode = ReadData("event-postcode.bin");
  auto log = ParseEventLog(postcode);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->events[2].type, kEvPostCode);
  auto blob = DecodeFirmwareBlob(log->events[2].data, false);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(blob->base, 0xff130000u);  // tpm2_eventlog: BlobBase, BlobLength
  EXPECT_EQ(blob->length, 0xa7f000u);

  std::string gce = ReadData("event-gce-ubuntu-2104-log.bin");
  log = ParseEventLog(gce);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->events[22].type, kEvEfiGptEvent);
  auto gpt = DecodeGpt(log->events[22].data);
  ASSERT_TRUE(gpt.ok());
  EXPECT_EQ(gpt->partition_entry_size, 128u);
  EXPECT_GE(gpt->partitions, 2u);

  std::string sdboot = ReadData("event-sd-boot-fedora37.bin");
  log = ParseEventLog(sdboot);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->events[25].type, kEvEventTag);
  EXPECT_TRUE(DecodeTaggedEvent(log->events[25].data).ok());
  BootSummary s = Summarize(*log);
  ASSERT_TRUE(s.kernel_cmdline.has_value());  // systemd-boot's UTF-16 line in PCR 12
  EXPECT_NE(s.kernel_cmdline->find("console=ttyS0 console=tty0 efi=debug"), std::string::npos);
  EXPECT_FALSE(s.secure_boot.value_or(true));  // logged empty: off
}

// Every prefix of a real log either parses (it ends on an event boundary)
// or is refused with an offset no further than the cut.
TEST(UefiEventLogMalformed, EveryTruncationOfARealLog) {
  std::string bytes = ReadData("event-moklisttrusted.bin");
  auto whole = ParseEventLog(bytes);
  ASSERT_TRUE(whole.ok());
  std::vector<size_t> boundaries;
  for (const Event& e : whole->events) boundaries.push_back(e.offset);
  size_t refused = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    // A copy of exactly n bytes, so ASan would see a read past it.
    std::string prefix = bytes.substr(0, n);
    auto log = ParseEventLog(prefix);
    bool boundary = n > 0 && std::count(boundaries.begin() + 1, boundaries.end(), n) == 1;
    if (log.ok()) {
      ASSERT_TRUE(boundary) << "prefix of " << n << " bytes parsed";
      continue;
    }
    ++refused;
    ASSERT_FALSE(boundary) << n;
    const std::string m = log.status().message();
    size_t at = m.find("at offset 0x");
    ASSERT_NE(at, std::string::npos) << m;
    size_t offset = std::stoul(m.substr(at + 12), nullptr, 16);
    ASSERT_LE(offset, n) << m;
    ASSERT_EQ(m.rfind("event ", 0), 0u) << m;
  }
  EXPECT_EQ(refused, bytes.size() - (boundaries.size() - 1));
}

void PutU32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}

TEST(UefiEventLogMalformed, LengthsThatDoNotFit) {
  std::string good = ReadData("event-uefivar.bin");
  auto log = ParseEventLog(good);
  ASSERT_TRUE(log.ok());
  const Event& var = log->events[1];
  // Agile record: pcr, type, count, 2 × (alg + digest), size, data.
  const size_t size_at = var.offset + 12 + (2 + 20) + (2 + 32);
  {
    std::string b = good;
    PutU32(b, size_at, 0xffffffff);
    auto r = ParseEventLog(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("event 1 at offset 0x4d"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("exceeds"), std::string::npos);
  }
  {
    std::string b = good;
    PutU32(b, var.offset + 8, 9);  // 9 digests for 4 banks
    EXPECT_FALSE(ParseEventLog(b).ok());
  }
  {
    std::string b = good;
    b[var.offset + 12] = 0x12;  // sm3_256: not a bank of this log
    auto r = ParseEventLog(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("not a bank"), std::string::npos);
  }
  {
    std::string b = good;
    // UEFI_VARIABLE_DATA name length: huge, must not overflow 2 * n.
    size_t name_len_at = static_cast<size_t>(var.data.data() - good.data()) + 16;
    for (int i = 0; i < 8; ++i) b[name_len_at + i] = '\xff';
    auto r = ParseEventLog(b);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("EV_EFI_VARIABLE_DRIVER_CONFIG"), std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(ParseEventLog("").ok());
  EXPECT_FALSE(ParseEventLog(std::string(31, '\0')).ok());
}

TEST(UefiEventLogDecode, SignatureListSizesAreChecked) {
  std::string list(28, '\0');
  PutU32(list, 16, 28 + 20);  // list size: header + one 20-byte signature
  PutU32(list, 24, 20);       // signature size
  list += std::string(20, 'a');
  auto ok = DecodeSignatureLists(list);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].signatures[0].data, std::string(4, 'a'));
  std::string bad = list;
  PutU32(bad, 16, 28 + 21);
  EXPECT_FALSE(DecodeSignatureLists(bad).ok());
  bad = list;
  PutU32(bad, 24, 8);  // smaller than an owner GUID
  EXPECT_FALSE(DecodeSignatureLists(bad).ok());
  bad = list;
  PutU32(bad, 20, 0xfffffff0);  // header size overflowing the list
  EXPECT_FALSE(DecodeSignatureLists(bad).ok());
}

TEST(UefiEventLogDecode, StartupLocalitySetsPcr0) {
  // A hand-made SHA-1 log: StartupLocality 3, then one EV_S_CRTM_VERSION.
  auto record = [](uint32_t pcr, uint32_t type, std::string digest, std::string data) {
    std::string r(8, '\0');
    PutU32(r, 0, pcr);
    PutU32(r, 4, type);
    r += digest;
    std::string n(4, '\0');
    PutU32(n, 0, static_cast<uint32_t>(data.size()));
    return r + n + data;
  };
  std::string log_bytes =
      record(0, kEvNoAction, std::string(20, '\0'), std::string("StartupLocality\0\x03", 17)) +
      record(0, kEvSCrtmVersion, std::string(20, 'x'), "v1");
  auto log = ParseEventLog(log_bytes);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE(log->has_startup_locality);
  EXPECT_EQ(log->startup_locality, 3);
  auto replay = ReplayLog(*log);
  ASSERT_TRUE(replay.ok());
  std::string initial(20, '\0');
  initial[19] = 3;
  std::string expected = tpm::Digest(*tpm::HashAlgById(kAlgSha1), initial + std::string(20, 'x'));
  EXPECT_EQ(replay->banks[0].Value(0), expected);
}

TEST(UefiReplay, TamperedSeparatorIsReported) {
  std::string bytes = ReadData("event-gce-ubuntu-2104-log.bin");
  auto log = ParseEventLog(bytes);
  ASSERT_TRUE(log.ok());
  const Event& sep = log->events[8];
  ASSERT_EQ(sep.type, kEvSeparator);
  std::string b = bytes;
  b[sep.data.data() - bytes.data()] = 1;  // separator data 01000000
  auto tampered = ParseEventLog(b);
  ASSERT_TRUE(tampered.ok());
  auto replay = ReplayLog(*tampered);
  ASSERT_TRUE(replay.ok());
  ASSERT_EQ(replay->mismatches.size(), 3u);  // one per bank
  EXPECT_EQ(replay->mismatches[0].event_index, 8u);
  EXPECT_EQ(replay->mismatches[2].alg, kAlgSha384);
}

}  // namespace
}  // namespace attestd::uefi
