// Appraisal of an IMA measurement list against a compiled policy and the
// quoted PCR 10, as Keylime's verifier does it, incrementally.
//
// Every entry is parsed, its template data rebuilt and hashed for the PCR
// bank (an entry whose logged template hash is all zero is a violation and
// extends all 0xFF), the running PCR 10 is extended, and the entry is
// checked: PCR index 10, logged template hash = hash of its data
// (ima.log_hash_alg), then the policy (excludes, digests, signatures,
// keyrings). Some prefix of the list must replay to the quoted value;
// entries after it are allowed (the log runs ahead of the quote).
//
// Incremental: the state records how many entries a quote covered and the
// PCR value there; the next appraisal takes the log from that entry on (or
// the full log, whose covered prefix is then only replayed to recognise it)
// and appraises the new entries only. A log that no longer starts with the
// covered prefix, or a boot marker that changed, is a reboot: the list is
// appraised from its start again (a partial list after a reboot fails with
// ima.pcr_mismatch). A quote that lagged behind the log must catch up with
// that lag next time (ima.quote_progress, as Keylime's
// check_quote_progress). Any failure resets the state (Keylime does the
// same), so the next attestation appraises the whole log.
//
// Thread safety: a CompiledPolicy may serve concurrent appraisals; each
// call keeps its own hashing context and buffers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "verifiers/ima/ima_hash.h"
#include "verifiers/ima/ima_log.h"
#include "verifiers/ima/ima_policy.h"

namespace attestd::ima {

// A key learned from an ima-buf entry (a key added to a kernel keyring and
// accepted by the policy's `keyrings`), kept for later attestations.
struct LearnedKey {
  std::string keyring;
  uint32_t keyid = 0;
  std::string spki_der;
  bool operator==(const LearnedKey&) const = default;
};

// What an attester's previous appraisal leaves for the next one.
struct ImaState {
  uint64_t next_entry = 0;              // entries [0, next_entry) are appraised and quoted
  std::string bank;                     // "sha256": the bank pcr10 belongs to
  std::string pcr10;                    // PCR 10 after next_entry entries (raw bytes)
  std::string boot_id;                  // SHA-256 of the list's first line (raw); empty until seen
  std::optional<uint64_t> boot_marker;  // AppraiseInput::boot_marker when last appraised
  std::vector<LearnedKey> learned_keys;
  // Keylime's quote progress: where the last quote matched, counted from
  // the first entry appraised then, and how many entries were appraised.
  struct Progress {
    uint64_t match_line = 0;
    uint64_t log_length = 0;
    bool operator==(const Progress&) const = default;
  };
  std::optional<Progress> progress;
  bool operator==(const ImaState&) const = default;
};

struct AppraiseInput {
  std::string_view log;              // the list from entry `first_entry` on
  uint64_t first_entry = 0;          // Keylime's ima_ml_entry: index of the log's first entry
  std::string_view bank = "sha256";  // sha1, sha256, sha384, sha512
  std::string_view pcr10;            // the quoted PCR 10, raw, of the bank's size
  // Anything that changes when the machine reboots, when known: the quote's
  // TPM resetCount, or the `boottime` a Keylime agent reports.
  std::optional<uint64_t> boot_marker;
  std::vector<std::string> boot_aggregates;  // more accepted boot_aggregate digests (raw)
};

struct AppraiseOptions {
  // Violations (ToMToU, open-writers) pass instead of failing with
  // ima.validation.tomtou.
  bool ignore_tomtou_errors = false;
  // Failures recorded beyond this are only counted (failures_dropped).
  size_t max_failures = 1000;
};

// One failed check, with Keylime's event id (ima.validation.ima-ng.not_in_allowlist,
// ima.validator.ima-sig.invalid_signature, ima.pcr_mismatch, ima.parser.entry, ...).
struct ImaFailure {
  std::string event_id;
  std::string path;    // the entry's file path or buffer name; empty for list-wide failures
  uint64_t entry = 0;  // 0-based index in the whole list
  uint64_t line = 0;   // 1-based line in the given text; 0 for list-wide failures
  std::string reason;
};

// Counts over the entries appraised this time (the newly covered ones and
// any the log has beyond the quote). Backs EAR's `executables` claim.
struct ImaSummary {
  uint64_t entries_appraised = 0;
  uint64_t entries_passed = 0;
  uint64_t files_measured = 0;  // file entries (not ima-buf, not boot_aggregate)
  uint64_t excluded = 0;        // passed only because an exclude pattern matched
  uint64_t signatures_verified = 0;
  uint64_t violations = 0;
  uint64_t keys_learned = 0;
  uint64_t entries_skipped = 0;  // already covered by the previous state
  bool reboot_detected = false;
  // Entries [0, quoted_entries) are covered by the quote; nullopt: no prefix matched.
  std::optional<uint64_t> quoted_entries;
};

struct ImaAppraisal {
  bool ok() const { return failures.empty() && failures_dropped == 0; }
  std::vector<ImaFailure> failures;
  size_t failures_dropped = 0;
  ImaSummary summary;
  ImaState state;  // to keep for the next appraisal
};

// Appraises `in` against `policy`, continuing `previous` when given.
// Errors (not failures) for the caller's mistakes: an unknown bank, a PCR
// value of the wrong size, a partial log without state or with a gap.
Result<ImaAppraisal> AppraiseImaLog(const CompiledPolicy& policy, const ImaState* previous,
                                    const AppraiseInput& in, const AppraiseOptions& options = {});

// EAR's `executables` trustworthiness claim (AR4SI) for an appraisal:
// 2 all entries approved; 33 some file or buffer unrecognized (not in the
// policy, a violation, a foreign PCR); 96 a signature that does not verify
// (contraindicated); 99 the list itself does not check out (PCR mismatch,
// unparsable line, wrong template hash, no quote progress).
int Ar4siExecutables(const ImaAppraisal& a);

// The state as JSON for a store, and back. Parse refuses anything
// Serialize would not write (InvalidArgument naming the field).
std::string SerializeImaState(const ImaState& s);
Result<ImaState> ParseImaState(std::string_view json);

// The value the kernel extends into `bank` for `e`: H(template data), or
// all 0xFF when the logged template hash is all zero (a violation).
// `scratch` holds the template data (its capacity is reused).
bool BankTemplateHash(const LogEntry& e, const HashAlgo& bank, Hasher* hasher, std::string* scratch,
                      DigestBuf* out);

// PCR 10 after replaying every entry of `log` from zero, in `bank`.
// InvalidArgument naming the line when one does not parse.
Result<std::string> ReplayPcr10(std::string_view log, std::string_view bank);

}  // namespace attestd::ima
