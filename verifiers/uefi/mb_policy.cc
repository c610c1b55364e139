// Keylime's example policy (keylime/mba/elchecking/example.py), re-stated
// over the decoded log instead of tpm2_eventlog's YAML. Where the two
// differ on purpose:
// - Separators: Keylime compares tpm2_eventlog's hex text with "FFFFFFFF"
//   in upper case, which tpm2-tools never prints; both spellings of the
//   spec's two values are accepted here.
// - GUIDs: tpm2-tools < 5.2 printed them byte-swapped and Keylime accepts
//   both; this parser only produces the correct form, so only it matches.
#include "verifiers/uefi/mb_policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <set>

#include "common/base64.h"
#include "verifiers/tpm/tpm_structures.h"
#include "verifiers/uefi/eventlog_decode.h"

namespace attestd::uefi {
namespace {

std::string Id(std::string_view check) { return "measured_boot." + std::string(check); }

std::string EventLabel(const Event& e) {
  return "event " + std::to_string(e.index) + " (PCR " + std::to_string(e.pcr) + ", " +
         std::string(EventTypeName(e.type)) + ")";
}

// Python's `.` in a regex without DOTALL: anything but a newline.
bool OneLine(std::string_view s) { return s.find('\n') == std::string_view::npos; }
bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}
bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The sha256 digest of `e` as lower-case hex, or empty.
std::string Sha256Hex(const EventLog& log, const Event& e) {
  int bank = log.BankIndex(kAlgSha256);
  return bank < 0 || e.digests[bank].empty() ? "" : HexEncode(e.digests[bank]);
}

// Keylime's DigestsTest: some digest of the event, in an algorithm the
// allowed maps name, equals one of the allowed values.
bool DigestAllowed(const EventLog& log, const Event& e, const std::vector<DigestMap>& allowed) {
  for (size_t i = 0; i < log.banks.size(); ++i) {
    if (e.digests[i].empty()) continue;
    std::string name = AlgName(log.banks[i].alg);
    std::string hex;
    for (const DigestMap& m : allowed) {
      auto it = m.find(name);
      if (it == m.end()) continue;
      if (hex.empty()) hex = HexEncode(e.digests[i]);
      if (it->second == hex) return true;
    }
  }
  return false;
}

// Some bank's digest of `e` is the hash of `data` (Keylime's DigestTest
// over every algorithm it knows).
bool SomeBankHashes(const EventLog& log, const Event& e, std::string_view data) {
  for (size_t i = 0; i < log.banks.size(); ++i) {
    const tpm::HashAlg* alg = tpm::HashAlgById(log.banks[i].alg);
    if (alg == nullptr || e.digests[i].empty()) continue;
    if (tpm::Digest(*alg, data) == e.digests[i]) return true;
  }
  return false;
}

using SignatureSet = std::set<std::pair<std::string, std::string>>;

SignatureSet ToSet(const std::vector<RefSignature>& sigs) {
  SignatureSet s;
  for (const RefSignature& r : sigs) s.emplace(r.owner, r.data_hex);
  return s;
}

// Collected while walking the log, judged at the end (Keylime's
// DelayToFields).
struct Delayed {
  std::vector<const Event*> s_crtms, firmware_blobs, bsas, ipl9s, vmlinuz, kernel_cmdlines;
};

// Once-only tests, by name.
class Once {
 public:
  // True the first time `name` is seen.
  bool First(const std::string& name) { return seen_.insert(name).second; }

 private:
  std::set<std::string> seen_;
};

class ExampleEvaluator {
 public:
  ExampleEvaluator(const EventLog& log, const RefState& ref, std::vector<Failure>* out)
      : log_(log), ref_(ref), out_(out) {}

  void Run() {
    for (const Event& e : log_.events) Dispatch(e);
    CheckKernels();
    CheckScrtmAndBios();
    CheckOrdering();
  }

 private:
  void Fail(std::string_view check, std::string detail, const Event* e = nullptr) {
    Failure f;
    f.id = Id(check);
    f.detail = e ? EventLabel(*e) + ": " + detail : std::move(detail);
    if (e) {
      f.event_index = static_cast<int>(e->index);
      f.pcr = static_cast<int>(e->pcr);
    }
    out_->push_back(std::move(f));
  }

  void OnceOnly(const Event& e, const std::string& name) {
    if (!once_.First(name)) Fail("unexpected_event", "expected only once", &e);
  }

  void Dispatch(const Event& e) {
    const uint32_t p = e.pcr;
    switch (e.type) {
      case kEvNoAction:
        if (p == 0) return OnceOnly(e, "no_action");
        break;
      case kEvCpuMicrocode:
        if (p == 1) return OnceOnly(e, "microcode");
        break;
      case kEvEfiHandoffTables:
        if (p == 1) return OnceOnly(e, "handoff");
        break;
      case kEvEfiHandoffTables2:
        if (p == 1) return OnceOnly(e, "handoff2");
        break;
      case kEvPlatformConfigFlags:  // edk2 logs up to four
        if (p == 1) {
          if (++config_flags_ > 4) Fail("unexpected_event", "more than 4 such events", &e);
          return;
        }
        break;
      case kEvSCrtmVersion:
        if (p == 0) return delayed_.s_crtms.push_back(&e);
        break;
      case kEvEfiPlatformFirmwareBlob:
      case kEvEfiPlatformFirmwareBlob2:
        if (p == 0) return delayed_.firmware_blobs.push_back(&e);
        break;
      case kEvEfiVariableDriverConfig:
        if (p == 7) return DriverConfig(e);
        break;
      case kEvEfiVariableAuthority:
        if (p == 7) return Authority(e);
        break;
      case kEvEfiBootServicesDriver:
        if (p == 2) return;
        break;
      case kEvEfiVariableBoot:
        if (p == 1) return BootVariable(e);
        break;
      case kEvEfiAction:
        if (p == 1 || p == 4 || p == 5) return EfiAction(e);
        break;
      case kEvSeparator:
        if (p <= 7) return Separator(e);
        break;
      case kEvEfiBootServicesApplication:
        if (p == 4) return delayed_.bsas.push_back(&e);
        break;
      case kEvIpl:
        if (p == 8) return Ipl8(e);
        if (p == 9) return Ipl9(e);
        if (p == 14) return Ipl14(e);
        break;
      case kEvEfiGptEvent:
        if (p == 5) return OnceOnly(e, "gpt");
        break;
      default:
        break;
    }
    Fail("unexpected_event", "no rule for this PCR and event type", &e);
  }

  void DriverConfig(const Event& e) {
    auto v = DecodeVariable(e.data);
    if (!v.ok()) return Fail("unexpected_variable", v.status().message(), &e);
    const std::string& n = v->name;
    if (v->vendor == kEfiGlobalVariable && n == "SecureBoot") {
      std::optional<bool> on = SecureBootEnabled(v->data);
      if (!on || *on != ref_.has_secureboot) {
        Fail("secureboot",
             std::string("SecureBoot is ") +
                 (!on   ? "undecodable"
                  : *on ? "on"
                        : "off") +
                 ", the refstate says " + (ref_.has_secureboot ? "on" : "off"),
             &e);
      }
      return;
    }
    const std::vector<Guid> x509 = {kEfiCertX509Guid};
    const std::vector<Guid> x509_sha = {kEfiCertX509Guid, kEfiCertSha256Guid};
    if (v->vendor == kEfiGlobalVariable && (n == "PK" || n == "KEK")) {
      return KeySubset(e, n == "PK" ? "pk" : "kek", v->data, n == "PK" ? ref_.pk : ref_.kek, x509);
    }
    if (v->vendor == kEfiImageSecurityDatabase && (n == "db" || n == "vendor_db")) {
      return KeySubset(e, n, v->data, n == "db" ? ref_.db : ref_.vendor_db, x509_sha);
    }
    if (v->vendor == kEfiImageSecurityDatabase && n == "dbx") return Dbx(e, v->data);
    Fail("unexpected_variable", v->vendor.ToString() + " " + n, &e);
  }

  // Every entry of the variable is in the refstate's list, in signature
  // lists of the allowed types (Keylime's KeySubset / KeySubsetMulti).
  void KeySubset(const Event& e, const std::string& check, std::string_view data,
                 const std::vector<RefSignature>& allowed, const std::vector<Guid>& types) {
    if (!once_.First("config_" + check)) return Fail(check, "measured more than once", &e);
    if (!ref_.has_secureboot && allowed.empty()) return;
    auto lists = DecodeSignatureLists(data);
    if (!lists.ok()) return Fail(check, lists.status().message(), &e);
    SignatureSet set = ToSet(allowed);
    for (const SignatureList& l : *lists) {
      if (std::find(types.begin(), types.end(), l.type) == types.end()) {
        return Fail(check, "signature list of type " + l.type.ToString(), &e);
      }
      for (const SignatureData& s : l.signatures) {
        if (!set.count({s.owner.ToString(), HexEncode(s.data)})) {
          return Fail(check, "entry owned by " + s.owner.ToString() + " is not in the refstate",
                      &e);
        }
      }
    }
  }

  // One SHA-256 signature list holding at least the refstate's entries:
  // the forbidden list must not shrink (Keylime's KeySuperset).
  void Dbx(const Event& e, std::string_view data) {
    if (!once_.First("config_dbx")) return Fail("dbx", "measured more than once", &e);
    if (!ref_.has_secureboot && ref_.dbx.empty()) return;
    auto lists = DecodeSignatureLists(data);
    if (!lists.ok()) return Fail("dbx", lists.status().message(), &e);
    if (lists->size() != 1) {
      return Fail("dbx", std::to_string(lists->size()) + " signature lists, expected 1", &e);
    }
    const SignatureList& l = lists->front();
    if (l.type != kEfiCertSha256Guid) return Fail("dbx", "not a SHA-256 signature list", &e);
    SignatureSet have;
    for (const SignatureData& s : l.signatures) have.emplace(s.owner.ToString(), HexEncode(s.data));
    size_t missing = 0;
    for (const RefSignature& r : ref_.dbx) missing += have.count({r.owner, r.data_hex}) == 0;
    if (missing > 0) {
      Fail("dbx", std::to_string(missing) + " of the refstate's dbx entries are missing", &e);
    }
  }

  void Authority(const Event& e) {
    auto v = DecodeVariable(e.data);
    if (!v.ok()) return Fail("unexpected_variable", v.status().message(), &e);
    const std::string& n = v->name;
    if (v->vendor == kEfiImageSecurityDatabase && n == "db") return OnceOnly(e, "authority_db");
    if (v->vendor == kEfiImageSecurityDatabase && n == "vendor_db") {
      if (!once_.First("authority_vendor_db")) {
        return Fail("vendor_db", "measured more than once", &e);
      }
      if (!ref_.has_secureboot && ref_.vendor_db.empty()) return;
      auto sig = DecodeSignatureData(v->data);
      SignatureSet set = ToSet(ref_.vendor_db);
      if (!sig.ok() || !set.count({sig->owner.ToString(), HexEncode(sig->data)})) {
        Fail("vendor_db", "authority not in the refstate's vendor_db", &e);
      }
      return;
    }
    if (v->vendor == kShimLockGuid) {
      if (n == "SbatLevel" || n == "Shim" || n == "MokListRT") return OnceOnly(e, "authority_" + n);
      if (n == "MokListTrusted") {
        OnceOnly(e, "authority_" + n);
        if (!SecureBootEnabled(v->data)) Fail("unexpected_variable", "MokListTrusted value", &e);
        return;
      }
    }
    Fail("unexpected_variable", v->vendor.ToString() + " " + n, &e);
  }

  void BootVariable(const Event& e) {
    auto v = DecodeVariable(e.data);
    if (!v.ok()) return Fail("unexpected_variable", v.status().message(), &e);
    const std::string& n = v->name;
    bool boot_num = n.size() > 4 && StartsWith(n, "Boot") &&
                    std::all_of(n.begin() + 4, n.end(), [](char c) { return std::isxdigit(c); });
    if (v->vendor != kEfiGlobalVariable || (n != "BootOrder" && !boot_num)) {
      Fail("unexpected_variable", v->vendor.ToString() + " " + n, &e);
    }
  }

  void EfiAction(const Event& e) {
    static const std::vector<std::string_view> kPcr1 = {"Entering ROM Based Setup"};
    static const std::vector<std::string_view> kPcr4 = {
        "Calling EFI Application from Boot Option",
        "Returning from EFI Application from Boot Option"};
    static const std::vector<std::string_view> kPcr5 = {"Exit Boot Services Invocation",
                                                        "Exit Boot Services Returned with Failure",
                                                        "Exit Boot Services Returned with Success"};
    const auto& allowed = e.pcr == 1 ? kPcr1 : e.pcr == 4 ? kPcr4 : kPcr5;
    std::string text = EventText(e.data);
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      return Fail("efi_action", "\"" + text + "\" is not a string the spec lists", &e);
    }
    if (!SomeBankHashes(log_, e, e.data))
      Fail("efi_action", "digest is not the hash of the text", &e);
  }

  void Separator(const Event& e) {
    ++separators_[e.pcr];
    if (e.data != std::string_view("\0\0\0\0", 4) && e.data != "\xff\xff\xff\xff") {
      return Fail("separator", "data is " + HexEncode(e.data), &e);
    }
    if (!SomeBankHashes(log_, e, e.data))
      Fail("separator", "digest is not the hash of its data", &e);
  }

  void Ipl8(const Event& e) {
    std::string s = EventText(e.data);
    if (StartsWith(s, "grub_cmd: ")) return;
    if (StartsWith(s, "kernel_cmdline: ") && OneLine(s))
      return delayed_.kernel_cmdlines.push_back(&e);
    Fail("unexpected_event", "EV_IPL string is neither grub_cmd nor kernel_cmdline", &e);
  }

  void Ipl9(const Event& e) {
    std::string s = EventText(e.data);
    if (OneLine(s)) {
      if (Contains(s, "/loader/entries") || Contains(s, "/grub")) return;
      if (Contains(s, "/vmlinuz")) return delayed_.vmlinuz.push_back(&e);
      if (Contains(s, "/initrd") || Contains(s, "/initramfs")) return delayed_.ipl9s.push_back(&e);
    }
    Fail("unexpected_event", "file \"" + s + "\" is not a grub, loader entry, kernel or initrd",
         &e);
  }

  void Ipl14(const Event& e) {
    std::string s = EventText(e.data);
    if (s == "MokList") {
      if (!DigestAllowed(log_, e, ref_.mokdig)) Fail("mokdig", "MokList digest not allowed", &e);
    } else if (s == "MokListX") {
      if (!DigestAllowed(log_, e, ref_.mokxdig)) Fail("mokxdig", "MokListX digest not allowed", &e);
    } else if (s == "MokListTrusted") {
      OnceOnly(e, "ipl_moklisttrusted");
    } else {
      Fail("unexpected_event", "\"" + s + "\" is not a MokList", &e);
    }
  }

  // The fields of `k` the delayed events fail, as (check, detail).
  std::vector<std::pair<std::string, std::string>> KernelMisses(const AllowedKernel& k) const {
    std::vector<std::pair<std::string, std::string>> miss;
    std::vector<std::string> got;
    for (const Event* e : delayed_.bsas) got.push_back(Sha256Hex(log_, *e));
    std::vector<std::string> want = {k.shim_authcode_sha256, k.grub_authcode_sha256};
    bool apps_ok;
    if (ref_.has_secureboot) {
      want.push_back(k.kernel_authcode_sha256);
      std::vector<std::string> twice = want;
      twice.push_back(k.kernel_authcode_sha256);  // some kernels are measured twice
      apps_ok = got == want || got == twice;
    } else {
      apps_ok = got == want;
    }
    if (!apps_ok) {
      miss.emplace_back("boot_applications", std::to_string(got.size()) +
                                                 " boot applications do not match shim, grub" +
                                                 (ref_.has_secureboot ? " and kernel" : ""));
    }
    if (delayed_.ipl9s.size() != 1 ||
        Sha256Hex(log_, *delayed_.ipl9s[0]) != k.initrd_plain_sha256) {
      miss.emplace_back("initrd", std::to_string(delayed_.ipl9s.size()) +
                                      " initrd events; expected one with the refstate's digest");
    }
    if (delayed_.vmlinuz.size() != 1 ||
        (!ref_.has_secureboot && Sha256Hex(log_, *delayed_.vmlinuz[0]) != k.vmlinuz_plain_sha256)) {
      miss.emplace_back("vmlinuz", std::to_string(delayed_.vmlinuz.size()) +
                                       " kernel file events; expected one" +
                                       (ref_.has_secureboot ? "" : " with the refstate's digest"));
    }
    bool cmd_ok = false;
    // std::regex recurses per character: a command line far longer than
    // any kernel accepts (COMMAND_LINE_SIZE is 2048 on x86, 4096 at most
    // elsewhere) could exhaust the stack, so it simply does not match.
    constexpr size_t kMaxCmdline = 4096 + 16;
    if (delayed_.kernel_cmdlines.size() == 1 &&
        delayed_.kernel_cmdlines[0]->data.size() <= kMaxCmdline) {
      std::string s = EventText(delayed_.kernel_cmdlines[0]->data);
      try {
        cmd_ok = std::regex_match(s, *k.cmdline_re);
      } catch (const std::regex_error&) {
        cmd_ok = false;
      }
    }
    if (!cmd_ok) {
      miss.emplace_back("kernel_cmdline", std::to_string(delayed_.kernel_cmdlines.size()) +
                                              " kernel command lines; expected one matching " +
                                              k.kernel_cmdline);
    }
    return miss;
  }

  void CheckKernels() {
    if (ref_.kernels.empty()) return Fail("kernels", "the refstate allows no kernel");
    std::vector<std::pair<std::string, std::string>> closest;
    for (size_t i = 0; i < ref_.kernels.size(); ++i) {
      auto miss = KernelMisses(ref_.kernels[i]);
      if (miss.empty()) return;
      if (i == 0 || miss.size() < closest.size()) closest = std::move(miss);
    }
    for (auto& [check, detail] : closest) Fail(check, detail);
  }

  bool ScrtmMatches(const ScrtmAndBios& a) const {
    if (delayed_.s_crtms.size() != 1 || !DigestAllowed(log_, *delayed_.s_crtms[0], {a.scrtm})) {
      return false;
    }
    if (delayed_.firmware_blobs.size() != a.platform_firmware.size()) return false;
    for (size_t i = 0; i < a.platform_firmware.size(); ++i) {
      if (!DigestAllowed(log_, *delayed_.firmware_blobs[i], {a.platform_firmware[i]})) return false;
    }
    return true;
  }

  void CheckScrtmAndBios() {
    for (const ScrtmAndBios& a : ref_.scrtm_and_bios) {
      if (ScrtmMatches(a)) return;
    }
    Fail("scrtm_and_bios", std::to_string(delayed_.s_crtms.size()) + " S-CRTM and " +
                               std::to_string(delayed_.firmware_blobs.size()) +
                               " firmware blob events match no allowed entry");
  }

  // Beyond Keylime: one separator per PCR 0-7, Secure Boot configuration
  // before PCR 7's separator, authorities after it.
  void CheckOrdering() {
    for (uint32_t p = 0; p < 8; ++p) {
      if (separators_[p] != 1) {
        Failure f;
        f.id = Id("separator_order");
        f.detail = "PCR " + std::to_string(p) + " has " + std::to_string(separators_[p]) +
                   " separators, expected 1";
        f.pcr = static_cast<int>(p);
        out_->push_back(std::move(f));
      }
    }
    bool after = false;
    for (const Event& e : log_.events) {
      if (e.pcr != 7) continue;
      if (e.type == kEvSeparator) after = true;
      if (e.type == kEvEfiVariableDriverConfig && after) {
        Fail("secureboot_order", "Secure Boot configuration measured after the separator", &e);
      }
      if (e.type == kEvEfiVariableAuthority && !after) {
        Fail("secureboot_order", "authority measured before the separator", &e);
      }
    }
  }

  const EventLog& log_;
  const RefState& ref_;
  std::vector<Failure>* out_;
  Delayed delayed_;
  Once once_;
  int config_flags_ = 0;
  std::array<int, 8> separators_{};
};

bool IsPolicyPcr(uint32_t pcr) {
  return std::find(std::begin(kExamplePolicyPcrs), std::end(kExamplePolicyPcrs), pcr) !=
         std::end(kExamplePolicyPcrs);
}

}  // namespace

std::vector<Failure> EvaluateExample(const EventLog& log, const RefState& ref) {
  std::vector<Failure> out;
  ExampleEvaluator(log, ref, &out).Run();
  return out;
}

std::vector<Failure> ComparePcrs(const Replay& replay, const QuotedPcrs& quoted) {
  std::vector<Failure> out;
  uint32_t covered = 0;
  bool common = false;
  for (const PcrBank& b : replay.banks) {
    std::string name = AlgName(b.alg);
    auto q = quoted.find(name);
    if (q == quoted.end()) continue;
    common = true;
    for (uint32_t p = 0; p < kNumPcrs; ++p) {
      if (!b.Extended(p) && !IsPolicyPcr(p)) continue;
      auto v = q->second.find(p);
      if (v == q->second.end()) continue;
      covered |= 1u << p;
      if (v->second != b.Value(p)) {
        Failure f;
        f.id = Id("pcr_mismatch");
        f.bank = name;
        f.pcr = static_cast<int>(p);
        f.detail = name + " PCR " + std::to_string(p) + ": the log replays to " +
                   HexEncode(b.Value(p)) + ", the quote has " + HexEncode(v->second);
        out.push_back(std::move(f));
      }
    }
  }
  if (!common) {
    out.push_back({Id("missing_pcrs"), "the quote has no bank the log carries", -1, "", -1});
    return out;
  }
  for (uint32_t p : kExamplePolicyPcrs) {
    if (covered & (1u << p)) continue;
    out.push_back({Id("missing_pcrs"), "PCR " + std::to_string(p) + " is not in the quote", -1, "",
                   static_cast<int>(p)});
  }
  return out;
}

Result<MeasuredBootResult> AppraiseMeasuredBoot(std::string_view log_bytes,
                                                std::string_view refstate_json,
                                                const QuotedPcrs& quoted) {
  Result<RefState> ref = ParseRefState(refstate_json);
  if (!ref.ok()) return ref.status();
  MeasuredBootResult result;
  Result<EventLog> log = ParseEventLog(log_bytes);
  if (!log.ok()) {
    result.failures.push_back({Id("parser"), log.status().message(), -1, "", -1});
    return result;
  }
  Result<Replay> replay = ReplayLog(*log);
  if (!replay.ok()) return replay.status();
  for (const DigestMismatch& m : replay->mismatches) {
    const Event& e = log->events[m.event_index];
    result.failures.push_back({Id("digest_mismatch"), EventLabel(e) + ": " + m.reason,
                               static_cast<int>(m.event_index), AlgName(m.alg),
                               static_cast<int>(m.pcr)});
  }
  for (Failure& f : EvaluateExample(*log, *ref)) result.failures.push_back(std::move(f));
  for (Failure& f : ComparePcrs(*replay, quoted)) result.failures.push_back(std::move(f));
  result.summary = Summarize(*log);
  return result;
}

}  // namespace attestd::uefi
