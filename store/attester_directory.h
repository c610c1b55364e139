// AttesterDirectory: what attestd trusts about each attester, by agent_id.
//
// Trust comes from here, never from evidence alone: an attester's
// Attestation Key (TPM2B_PUBLIC bytes), its PCR reference values (Keylime's
// `tpm_policy` JSON text) and whether it is trusted (registrar-activated or
// enrolled at the verifier). Alongside, the clock baseline: the TPM clock
// state of the last quote that passed, so rollback can be detected.
//
// Promises, for every implementation:
// - Thread-safe. Every operation touches one attester only (one key in
//   Redis: `attestd:attester:{<agent_id>}`), so Redis works on a cluster.
// - kUnavailable means the store could not be reached (retry later); no
//   operation blocks for long when the store is down.
// - Put keeps the clock baseline when the AK is unchanged and clears it when
//   the AK changes (a new AK may be a new TPM, whose clock starts anew).
// - AdvanceClock is an atomic compare-and-update: of concurrent calls, each
//   sees the baseline the previous one left, and the baseline only ever moves
//   forward by ClockAdvances.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace attestd {

// TPMS_CLOCK_INFO as far as rollback detection needs it.
struct ClockState {
  uint64_t clock = 0;          // ms the TPM has been powered, across resets
  uint32_t reset_count = 0;    // TPM resets (reboots) since the last clear
  uint32_t restart_count = 0;  // restarts/resumes since the last reset
  bool operator==(const ClockState&) const = default;
};

// True if `next` may follow `prev`: resetCount never decreases; with equal
// resetCount, restartCount never decreases; with both equal, clock strictly
// increases. (After a reset or restart the clock may be anything.)
inline bool ClockAdvances(const ClockState& prev, const ClockState& next) {
  if (next.reset_count != prev.reset_count) return next.reset_count > prev.reset_count;
  if (next.restart_count != prev.restart_count) return next.restart_count > prev.restart_count;
  return next.clock > prev.clock;
}

struct Attester {
  std::string ak_tpm;               // the AK as TPM2B_PUBLIC bytes (not base64)
  std::string tpm_policy;           // Keylime tpm_policy JSON text; empty = no reference values
  bool trusted = false;             // registrar-activated or enrolled; false = not to be believed
  std::optional<ClockState> clock;  // baseline; Get fills it, Put ignores it
};

// A clock baseline to move, deferred by the appraisal to the step that
// records its result (SessionStore::CompleteAppraisalAsync), so both are
// written in one store round trip.
struct ClockCommit {
  std::string agent_id;
  ClockState observed;
};

// What AdvanceClock did.
struct ClockAdvance {
  bool advanced = false;               // the baseline is now the new state
  std::optional<ClockState> previous;  // the baseline before the call (none on first quote)
};

class AttesterDirectory {
 public:
  virtual ~AttesterDirectory() = default;

  // The attester with its clock baseline. kNotFound if unknown.
  virtual Result<Attester> Get(std::string_view agent_id) = 0;

  // Creates or replaces the attester (see the clock promise above).
  virtual Status Put(std::string_view agent_id, const Attester& attester) = 0;

  // Forgets the attester and its baseline; OK whether or not it existed.
  virtual Status Remove(std::string_view agent_id) = 0;

  // Atomically: if the attester exists and has no baseline, or
  // ClockAdvances(baseline, observed), stores `observed` as the baseline and
  // reports advanced = true; otherwise changes nothing. kNotFound if the
  // attester is unknown (e.g. removed meanwhile). Call it only for a quote
  // that passed every other check.
  virtual Result<ClockAdvance> AdvanceClock(std::string_view agent_id,
                                            const ClockState& observed) = 0;
};

}  // namespace attestd
