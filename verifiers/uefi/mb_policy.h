// Measured-boot appraisal: a boot log against a Keylime refstate with the
// verdicts of Keylime's `example` policy, plus the replayed PCRs against a
// quote's.
//
// Failure ids. Keylime folds every policy failure into one event,
// `measured_boot.policy_example`, with a reason string; here each check has
// its own id so callers can tell them apart (all start "measured_boot."):
//   parser              the log is malformed (message has offset and index)
//   digest_mismatch     an event's digest is not the hash its data defines
//   missing_pcrs        (Keylime's) a PCR the policy needs is not quoted
//   pcr_mismatch        replayed PCR ≠ quoted PCR (bank and PCR given)
//   unexpected_event    a (PCR, event type) or EV_IPL string the example
//                       policy has no rule for, or a once-only event repeated
//   unexpected_variable a variable the policy has no rule for
//   secureboot          SecureBoot is not what has_secureboot says
//   pk, kek, db, vendor_db   an entry not in the refstate's list
//   dbx                 the refstate's dbx entries are not all present
//   mokdig, mokxdig     MokList/MokListX digest not allowed
//   scrtm_and_bios      S-CRTM version / firmware blobs match no entry
//   boot_applications, initrd, vmlinuz, kernel_cmdline
//                       the fields of the closest allowed kernel that fail
//   kernels             the refstate allows no kernel at all
//   separator           EV_SEPARATOR data is not 00000000/FFFFFFFF or its
//                       digest is not the hash of it
//   efi_action          an EV_EFI_ACTION string the spec does not list for
//                       its PCR, or its digest is wrong
//   separator_order     (beyond Keylime) PCRs 0-7 must each have exactly
//                       one EV_SEPARATOR
//   secureboot_order    (beyond Keylime) PCR 7 Secure Boot configuration
//                       must be measured before PCR 7's separator and
//                       authorities after it
//
// Promises:
// - EvaluateExample reports every failing check, not only the first (Keylime
//   stops at the first); the log passes exactly when Keylime's example
//   policy passes it, except for the two *_order checks and where noted in
//   mb_policy.cc.
// - No function here throws.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "verifiers/uefi/eventlog.h"
#include "verifiers/uefi/mb_refstate.h"
#include "verifiers/uefi/replay.h"
#include "verifiers/uefi/summary.h"

namespace attestd::uefi {

struct Failure {
  std::string id;      // "measured_boot.kernel_cmdline"
  std::string detail;  // human-readable reason
  int event_index = -1;
  std::string bank;  // pcr_mismatch, digest_mismatch
  int pcr = -1;
};

// PCRs the example policy reads (Keylime: 0-9 and 14).
inline constexpr uint32_t kExamplePolicyPcrs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14};

// Keylime's example policy over `log`.
std::vector<Failure> EvaluateExample(const EventLog& log, const RefState& ref);

// Bank name ("sha256") → PCR index → value (raw bytes) from a quote.
using QuotedPcrs = std::map<std::string, std::map<uint32_t, std::string>>;

// Replayed against quoted PCRs. Every (bank, PCR) both have is compared:
// PCRs the log extends, and the policy's PCRs (an unextended one replays to
// its initial value). A policy PCR that no bank of the quote that the log
// also carries covers → missing_pcrs; no bank in common → missing_pcrs.
std::vector<Failure> ComparePcrs(const Replay& replay, const QuotedPcrs& quoted);

struct MeasuredBootResult {
  std::vector<Failure> failures;
  BootSummary summary;
  bool ok() const { return failures.empty(); }
};

// The whole appraisal: parse (a malformed log is a `parser` failure), replay
// (digest_mismatch), policy, PCRs. Returns a Status only when the refstate
// cannot be evaluated (kInvalidArgument naming the field) or OpenSSL fails.
Result<MeasuredBootResult> AppraiseMeasuredBoot(std::string_view log_bytes,
                                                std::string_view refstate_json,
                                                const QuotedPcrs& quoted);

}  // namespace attestd::uefi
