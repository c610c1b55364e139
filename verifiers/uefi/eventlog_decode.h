// Decoding the data of one event, by layout (PFP spec and UEFI spec):
// UEFI_VARIABLE_DATA and the EFI_SIGNATURE_LISTs of Secure Boot variables,
// UEFI_IMAGE_LOAD_EVENT and its device path, UEFI_GPT_DATA, firmware blobs,
// tagged events, StartupLocality, and the strings of EV_IPL, EV_EFI_ACTION
// and EV_S_CRTM_VERSION.
//
// Promises:
// - Every Decode* function accepts any byte string, never reads outside it,
//   and returns kInvalidArgument with a short reason when a length does not
//   fit. Views in the results point into the input.
// - No function here throws.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace attestd::uefi {

// An EFI_GUID as stored (first three fields little-endian).
struct Guid {
  std::array<uint8_t, 16> bytes{};
  // "8be4df61-93ca-11d2-aa0d-00e098032b8c" (lower case, as the UEFI spec
  // and tpm2_eventlog >= 5.2 print it).
  std::string ToString() const;
  bool operator==(const Guid&) const = default;
  static Guid FromBytes(std::string_view sixteen);  // requires 16 bytes
};

// Well-known GUIDs.
extern const Guid kEfiGlobalVariable;         // 8be4df61-…: SecureBoot, PK, KEK, Boot####
extern const Guid kEfiImageSecurityDatabase;  // d719b2cb-…: db, dbx
extern const Guid kShimLockGuid;              // 605dab50-…: MokList*, SbatLevel, Shim
extern const Guid kEfiCertX509Guid;           // a5c059a1-…
extern const Guid kEfiCertSha256Guid;         // c1c41626-…

struct UefiVariable {
  Guid vendor;
  std::string name;  // UTF-16 name as UTF-8
  std::string_view data;
  size_t size = 0;  // bytes of the structure proper (without trailing bytes)
};
// UEFI_VARIABLE_DATA: GUID, UINT64 name length (chars), UINT64 data length,
// UTF-16LE name, data. Bytes after the data are ignored (shim's Shim
// authority event carries a few).
Result<UefiVariable> DecodeVariable(std::string_view event_data);

struct SignatureData {
  Guid owner;
  std::string_view data;  // an X.509 certificate (DER) or a SHA-256 digest
};
struct SignatureList {
  Guid type;
  uint32_t header_size = 0;
  uint32_t signature_size = 0;
  std::vector<SignatureData> signatures;
};
// A sequence of EFI_SIGNATURE_LISTs (the data of PK, KEK, db, dbx, MokList).
// Empty input → empty list.
Result<std::vector<SignatureList>> DecodeSignatureLists(std::string_view data);
// One EFI_SIGNATURE_DATA (what EV_EFI_VARIABLE_AUTHORITY logs for db):
// the owner GUID, then the rest.
Result<SignatureData> DecodeSignatureData(std::string_view data);

struct ImageLoad {
  uint64_t location = 0;
  uint64_t length = 0;
  uint64_t link_time_address = 0;
  std::string_view device_path;  // raw EFI_DEVICE_PATH_PROTOCOL nodes
};
// UEFI_IMAGE_LOAD_EVENT. Its UINTN fields are UINT64 unless `uintn32` (a
// Spec ID header with uintnSize 1: 32-bit firmware).
Result<ImageLoad> DecodeImageLoad(std::string_view event_data, bool uintn32 = false);

// Walks the nodes of a device path without rendering them: every node's
// length must be at least 4 and fit in the path.
Status CheckDevicePath(std::string_view path);

// A device path in the UEFI text form for the nodes boot logs hold
// (PciRoot, Pci, SCSI, Sata, NVMe, HD, File, FvVol, FvFile, Offset, …;
// other nodes as Path(type,subtype,hex)). Fails on a node whose length
// leaves the buffer.
Result<std::string> DevicePathToText(std::string_view path);

struct GptData {
  uint64_t partitions = 0;
  uint32_t partition_entry_size = 0;
  std::string_view disk_guid;  // 16 bytes
};
// UEFI_GPT_DATA: the 92-byte GPT header, UINT64 count, the entries.
Result<GptData> DecodeGpt(std::string_view event_data);

struct FirmwareBlob {
  std::string description;  // BLOB2 only
  uint64_t base = 0;
  uint64_t length = 0;
};
// UEFI_PLATFORM_FIRMWARE_BLOB (16 bytes) and …BLOB2 (u8 size, description,
// base, length). EV_POST_CODE carries the 16-byte form too (or, on some
// firmware, a string such as "ACPI DATA": read it with EventText).
Result<FirmwareBlob> DecodeFirmwareBlob(std::string_view event_data, bool blob2);

struct TaggedEvent {
  uint32_t id = 0;
  std::string_view data;
};
// TCG_PCClientTaggedEvent.
Result<TaggedEvent> DecodeTaggedEvent(std::string_view event_data);

// EV_NO_ACTION "StartupLocality\0" + UINT8 locality, else nullopt-like
// kNotFound (an EV_NO_ACTION of another kind).
Result<uint8_t> DecodeStartupLocality(std::string_view event_data);

// The text of EV_IPL (grub "grub_cmd: …"/"kernel_cmdline: …", shim
// "MokList", systemd-boot's UTF-16 command line), EV_EFI_ACTION and
// EV_S_CRTM_VERSION: UTF-16LE is recognized (even size, NUL high bytes)
// and converted; one trailing NUL is dropped (as Keylime does).
std::string EventText(std::string_view event_data);

// UTF-16LE → UTF-8 (surrogate pairs joined; a lone surrogate becomes U+FFFD).
std::string Utf16ToUtf8(std::string_view utf16le);

}  // namespace attestd::uefi
