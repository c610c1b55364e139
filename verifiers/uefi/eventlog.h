// The TCG PC Client Platform Firmware Profile event log (what
// /sys/kernel/security/tpm0/binary_bios_measurements holds): framing of the
// SHA-1 TCG_PCR_EVENT format and of the crypto-agile format (a Spec ID
// Event03 header naming the banks, then TCG_PCR_EVENT2 records).
//
// Promises:
// - ParseEventLog accepts any byte string and never reads outside it. Every
//   length field is checked against the bytes left before it is used.
// - A log is either parsed whole or refused: kInvalidArgument whose message
//   names the byte offset and the index of the event that broke, e.g.
//   "event 12 at offset 0x1a4: event size 4096 exceeds the 88 bytes left".
//   The payloads whose layout the spec defines (Spec ID and StartupLocality
//   headers, UEFI_VARIABLE_DATA, UEFI_IMAGE_LOAD_EVENT, UEFI_GPT_DATA,
//   platform firmware blobs, tagged events) are checked too, so a log that
//   parses can be decoded by eventlog_decode.h without further surprise.
// - Nothing is copied: digests and event data are views into the caller's
//   buffer, which must outlive the EventLog. Parsing allocates the event
//   vector once (one slot per event); per event, at most a variable name
//   longer than the short-string buffer (15 bytes).
// - No function here throws.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd::uefi {

// Event types (PFP spec, "Events" table).
enum EventType : uint32_t {
  kEvPrebootCert = 0x0,
  kEvPostCode = 0x1,
  kEvNoAction = 0x3,
  kEvSeparator = 0x4,
  kEvAction = 0x5,
  kEvEventTag = 0x6,
  kEvSCrtmContents = 0x7,
  kEvSCrtmVersion = 0x8,
  kEvCpuMicrocode = 0x9,
  kEvPlatformConfigFlags = 0xa,
  kEvTableOfDevices = 0xb,
  kEvCompactHash = 0xc,
  kEvIpl = 0xd,
  kEvIplPartitionData = 0xe,
  kEvNonhostCode = 0xf,
  kEvNonhostConfig = 0x10,
  kEvNonhostInfo = 0x11,
  kEvOmitBootDeviceEvents = 0x12,
  kEvPostCode2 = 0x13,
  kEvEfiVariableDriverConfig = 0x80000001,
  kEvEfiVariableBoot = 0x80000002,
  kEvEfiBootServicesApplication = 0x80000003,
  kEvEfiBootServicesDriver = 0x80000004,
  kEvEfiRuntimeServicesDriver = 0x80000005,
  kEvEfiGptEvent = 0x80000006,
  kEvEfiAction = 0x80000007,
  kEvEfiPlatformFirmwareBlob = 0x80000008,
  kEvEfiHandoffTables = 0x80000009,
  kEvEfiPlatformFirmwareBlob2 = 0x8000000a,
  kEvEfiHandoffTables2 = 0x8000000b,
  kEvEfiVariableBoot2 = 0x8000000c,
  kEvEfiGptEvent2 = 0x8000000d,
  kEvEfiHcrtmEvent = 0x80000010,
  kEvEfiVariableAuthority = 0x800000e0,
  kEvEfiSpdmFirmwareBlob = 0x800000e1,
  kEvEfiSpdmFirmwareConfig = 0x800000e2,
};

// "EV_EFI_ACTION" etc. as tpm2_eventlog and Keylime spell them; for an
// unknown type, "EV_UNKNOWN".
std::string_view EventTypeName(uint32_t type);

// TPM_ALG_ID values of the banks a log may carry.
inline constexpr uint16_t kAlgSha1 = 0x0004;
inline constexpr uint16_t kAlgSha256 = 0x000b;
inline constexpr uint16_t kAlgSha384 = 0x000c;
inline constexpr uint16_t kAlgSha512 = 0x000d;
inline constexpr uint16_t kAlgSm3_256 = 0x0012;

// At most this many banks in a crypto-agile header (the spec allows more;
// no TPM has more than a handful).
inline constexpr size_t kMaxBanks = 8;
// PCRs 0..23.
inline constexpr uint32_t kNumPcrs = 24;

struct Bank {
  uint16_t alg = 0;   // TPM_ALG_ID
  uint16_t size = 0;  // digest bytes, as the header declares
};

struct Event {
  uint32_t index = 0;  // 0 for the header event (EV_NO_ACTION Spec ID)
  size_t offset = 0;   // of the event's first byte in the log
  uint32_t pcr = 0;
  uint32_t type = 0;
  // digests[i] belongs to EventLog::banks[i] (reordered when the record
  // lists the algorithms in another order). Empty for the SHA-1 header event
  // and for a bank the record carries no digest of.
  std::array<std::string_view, kMaxBanks> digests{};
  std::string_view data;
};

struct SpecIdInfo {
  uint32_t platform_class = 0;
  uint8_t version_minor = 0, version_major = 0, errata = 0;
  uint8_t uintn_size = 0;  // 1: UINT32, 2: UINT64
};

struct EventLog {
  bool crypto_agile = false;  // false: SHA-1 TCG_PCR_EVENT records only
  std::vector<Bank> banks;    // {sha1, 20} for a SHA-1 log
  SpecIdInfo spec;
  // From an EV_NO_ACTION StartupLocality event; PCR 0 starts as 00..0N.
  uint8_t startup_locality = 0;
  bool has_startup_locality = false;
  // Every record in log order, the header event (index 0) included.
  std::vector<Event> events;

  // Position of `alg` in banks, or -1.
  int BankIndex(uint16_t alg) const;
};

// Parses a whole binary log (see the promises above).
Result<EventLog> ParseEventLog(std::string_view bytes);

// "sha1", "sha256", "sha384", "sha512", "sm3_256", else "0x000a"-style.
std::string AlgName(uint16_t alg);

}  // namespace attestd::uefi
