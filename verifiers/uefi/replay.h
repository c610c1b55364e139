// Replaying a parsed event log: the PCR values every bank would hold, and a
// check of the events whose digest the PFP spec defines as a hash of the
// event's own data.
//
// Promises:
// - Every bank of the log whose algorithm is sha1/sha256/sha384/sha512 and
//   of which every event carries a digest is replayed (others, e.g.
//   sm3_256, or a bank the header names but no event extends, are left out
//   of Replay::banks). PCRs
//   start at zero, PCR 0 at 00..0N for StartupLocality N; EV_NO_ACTION
//   events are not extended.
// - Digest checks (a mismatch is reported, the event is still extended with
//   the digest the log carries, as the TPM was):
//     EV_SEPARATOR, EV_EFI_ACTION, EV_ACTION, EV_EFI_GPT_EVENT,
//     EV_EFI_VARIABLE_DRIVER_CONFIG and EV_EFI_VARIABLE_BOOT2: hash of the
//     event data;
//     EV_EFI_VARIABLE_BOOT and EV_EFI_VARIABLE_AUTHORITY: hash of the whole
//     UEFI_VARIABLE_DATA or of its VariableData alone (real firmware and
//     shim versions do both; an authority event whose VariableData ends
//     before the event does, as old shim wrote them, is not checked);
//     EV_NO_ACTION: every digest zero.
// - One EVP_MD_CTX per call; no allocation per event.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "verifiers/uefi/eventlog.h"

namespace attestd::uefi {

struct PcrBank {
  uint16_t alg = 0;
  size_t size = 0;  // digest bytes
  std::array<std::array<uint8_t, 64>, kNumPcrs> values{};
  uint32_t extended = 0;  // bit p: some event extended PCR p

  std::string_view Value(uint32_t pcr) const {
    return {reinterpret_cast<const char*>(values[pcr].data()), size};
  }
  bool Extended(uint32_t pcr) const { return (extended >> pcr) & 1u; }
};

struct DigestMismatch {
  uint32_t event_index = 0;
  uint32_t pcr = 0;
  uint32_t type = 0;
  uint16_t alg = 0;
  std::string reason;  // "digest is not the hash of the event data", …
};

struct Replay {
  std::vector<PcrBank> banks;
  std::vector<DigestMismatch> mismatches;

  // The bank for `alg`, or nullptr.
  const PcrBank* Bank(uint16_t alg) const;
};

// Replays `log`. Fails only when OpenSSL does (kInternal).
Result<Replay> ReplayLog(const EventLog& log);

}  // namespace attestd::uefi
