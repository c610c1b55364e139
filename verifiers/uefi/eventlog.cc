#include "verifiers/uefi/eventlog.h"

#include <cstdio>

#include "verifiers/uefi/byte_reader.h"
#include "verifiers/uefi/eventlog_decode.h"

namespace attestd::uefi {
namespace {

constexpr std::string_view kSpecId03("Spec ID Event03\0", 16);
constexpr size_t kSha1Size = 20;

std::string Where(uint32_t index, size_t offset) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "event %u at offset 0x%zx: ", index, offset);
  return buf;
}

Status Malformed(uint32_t index, size_t offset, const std::string& why) {
  return InvalidArgument(Where(index, offset) + why);
}

uint16_t KnownDigestSize(uint16_t alg) {
  switch (alg) {
    case kAlgSha1:
      return 20;
    case kAlgSha256:
    case kAlgSm3_256:
      return 32;
    case kAlgSha384:
      return 48;
    case kAlgSha512:
      return 64;
    default:
      return 0;
  }
}

// TCG_EfiSpecIDEvent (the header event's data, after the signature check).
Status ParseSpecId(std::string_view data, EventLog* log) {
  ByteReader r(data);
  uint32_t count = 0;
  if (!r.Skip(16) || !r.U32(&log->spec.platform_class) || !r.U8(&log->spec.version_minor) ||
      !r.U8(&log->spec.version_major) || !r.U8(&log->spec.errata) || !r.U8(&log->spec.uintn_size) ||
      !r.U32(&count)) {
    return InvalidArgument("Spec ID event truncated");
  }
  if (count == 0 || count > kMaxBanks) {
    return InvalidArgument("Spec ID event names " + std::to_string(count) + " algorithms");
  }
  for (uint32_t i = 0; i < count; ++i) {
    Bank b;
    if (!r.U16(&b.alg) || !r.U16(&b.size)) return InvalidArgument("Spec ID algorithms truncated");
    uint16_t known = KnownDigestSize(b.alg);
    if (b.size == 0 || b.size > 64 || (known != 0 && known != b.size)) {
      return InvalidArgument("Spec ID gives " + AlgName(b.alg) + " a digest size of " +
                             std::to_string(b.size));
    }
    if (log->BankIndex(b.alg) >= 0) return InvalidArgument("Spec ID names an algorithm twice");
    log->banks.push_back(b);
  }
  uint8_t vendor_size = 0;
  if (!r.U8(&vendor_size) || !r.Skip(vendor_size)) {
    return InvalidArgument("Spec ID vendor info truncated");
  }
  if (!r.done()) return InvalidArgument("Spec ID event has trailing bytes");
  return Status::Ok();
}

// Checks the payload of the event types whose layout the spec defines.
Status CheckPayload(const Event& e, bool uintn32) {
  Status s;
  switch (e.type) {
    case kEvEfiVariableDriverConfig:
    case kEvEfiVariableBoot:
    case kEvEfiVariableBoot2:
    case kEvEfiVariableAuthority:
      s = DecodeVariable(e.data).status();
      break;
    case kEvEfiBootServicesApplication:
    case kEvEfiBootServicesDriver:
    case kEvEfiRuntimeServicesDriver: {
      auto img = DecodeImageLoad(e.data, uintn32);
      s = img.ok() ? CheckDevicePath(img->device_path) : img.status();
      break;
    }
    case kEvEfiGptEvent:
      s = DecodeGpt(e.data).status();
      break;
    case kEvEfiPlatformFirmwareBlob:
    case kEvEfiPlatformFirmwareBlob2:
      s = DecodeFirmwareBlob(e.data, e.type == kEvEfiPlatformFirmwareBlob2).status();
      break;
    case kEvEventTag:
      s = DecodeTaggedEvent(e.data).status();
      break;
    default:
      break;
  }
  return s;
}

// One TCG_PCR_EVENT (SHA-1 layout); the digest lands in slot 0.
bool ReadSha1Event(ByteReader& r, Event* e, std::string* why) {
  std::string_view digest;
  uint32_t size = 0;
  if (!r.U32(&e->pcr) || !r.U32(&e->type) || !r.Bytes(kSha1Size, &digest) || !r.U32(&size)) {
    *why = "event header truncated";
    return false;
  }
  if (!r.Bytes(size, &e->data)) {
    *why = "event size " + std::to_string(size) + " exceeds the " + std::to_string(r.left()) +
           " bytes left";
    return false;
  }
  e->digests[0] = digest;
  return true;
}

// One TCG_PCR_EVENT2, digests placed by bank.
bool ReadAgileEvent(ByteReader& r, const EventLog& log, Event* e, std::string* why) {
  uint32_t count = 0;
  if (!r.U32(&e->pcr) || !r.U32(&e->type) || !r.U32(&count)) {
    *why = "event header truncated";
    return false;
  }
  // Fewer digests than banks happens (firmware that names banks it does
  // not extend); the replay leaves such a bank out.
  if (count > log.banks.size()) {
    *why = "event has " + std::to_string(count) + " digests for " +
           std::to_string(log.banks.size()) + " banks";
    return false;
  }
  uint32_t seen = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t alg = 0;
    if (!r.U16(&alg)) {
      *why = "digest list truncated";
      return false;
    }
    int bank = log.BankIndex(alg);
    if (bank < 0 || (seen & (1u << bank))) {
      *why = "digest of " + AlgName(alg) + (bank < 0 ? " is not a bank of the log" : " repeated");
      return false;
    }
    seen |= 1u << bank;
    if (!r.Bytes(log.banks[bank].size, &e->digests[bank])) {
      *why = AlgName(alg) + " digest truncated";
      return false;
    }
  }
  uint32_t size = 0;
  if (!r.U32(&size)) {
    *why = "event size truncated";
    return false;
  }
  if (!r.Bytes(size, &e->data)) {
    *why = "event size " + std::to_string(size) + " exceeds the " + std::to_string(r.left()) +
           " bytes left";
    return false;
  }
  return true;
}

// Validates what every event must satisfy once framed.
Status CheckEvent(EventLog* log, const Event& e) {
  if (e.pcr >= kNumPcrs) return Malformed(e.index, e.offset, "PCR " + std::to_string(e.pcr));
  if (e.type == kEvNoAction) {
    Result<uint8_t> loc = DecodeStartupLocality(e.data);
    if (loc.ok()) {
      if (e.pcr != 0 || log->has_startup_locality) {
        return Malformed(e.index, e.offset, "unexpected StartupLocality event");
      }
      log->has_startup_locality = true;
      log->startup_locality = *loc;
    } else if (loc.status().code() != StatusCode::kNotFound) {
      return Malformed(e.index, e.offset, loc.status().message());
    }
    return Status::Ok();
  }
  Status s = CheckPayload(e, log->spec.uintn_size == 1);
  if (!s.ok()) {
    return Malformed(e.index, e.offset, std::string(EventTypeName(e.type)) + ": " + s.message());
  }
  return Status::Ok();
}

}  // namespace

int EventLog::BankIndex(uint16_t alg) const {
  for (size_t i = 0; i < banks.size(); ++i) {
    if (banks[i].alg == alg) return static_cast<int>(i);
  }
  return -1;
}

Result<EventLog> ParseEventLog(std::string_view bytes) {
  EventLog log;
  if (bytes.empty()) return InvalidArgument("event 0 at offset 0x0: empty log");
  ByteReader r(bytes);
  Event first;
  std::string why;
  if (!ReadSha1Event(r, &first, &why)) return Malformed(0, 0, why);
  log.crypto_agile = first.type == kEvNoAction && first.pcr == 0 &&
                     first.data.substr(0, kSpecId03.size()) == kSpecId03;
  if (log.crypto_agile) {
    Status s = ParseSpecId(first.data, &log);
    if (!s.ok()) return Malformed(0, 0, s.message());
    first.digests[0] = {};  // the header's SHA-1 field is not a bank digest
  } else {
    log.banks.push_back({kAlgSha1, kSha1Size});
  }
  // A rough count to reserve once: events are rarely smaller than 64 bytes.
  log.events.reserve(bytes.size() / 64 + 1);
  log.events.push_back(first);
  if (!log.crypto_agile) {
    Status s = CheckEvent(&log, first);
    if (!s.ok()) return s;
  }
  while (!r.done()) {
    Event e;
    e.index = static_cast<uint32_t>(log.events.size());
    e.offset = r.offset();
    bool ok = log.crypto_agile ? ReadAgileEvent(r, log, &e, &why) : ReadSha1Event(r, &e, &why);
    if (!ok) return Malformed(e.index, e.offset, why);
    Status s = CheckEvent(&log, e);
    if (!s.ok()) return s;
    log.events.push_back(e);
  }
  return log;
}

std::string AlgName(uint16_t alg) {
  switch (alg) {
    case kAlgSha1:
      return "sha1";
    case kAlgSha256:
      return "sha256";
    case kAlgSha384:
      return "sha384";
    case kAlgSha512:
      return "sha512";
    case kAlgSm3_256:
      return "sm3_256";
    default: {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "0x%04x", alg);
      return buf;
    }
  }
}

std::string_view EventTypeName(uint32_t type) {
  switch (type) {
    case kEvPrebootCert:
      return "EV_PREBOOT_CERT";
    case kEvPostCode:
      return "EV_POST_CODE";
    case 0x2:
      return "EV_UNUSED";
    case kEvNoAction:
      return "EV_NO_ACTION";
    case kEvSeparator:
      return "EV_SEPARATOR";
    case kEvAction:
      return "EV_ACTION";
    case kEvEventTag:
      return "EV_EVENT_TAG";
    case kEvSCrtmContents:
      return "EV_S_CRTM_CONTENTS";
    case kEvSCrtmVersion:
      return "EV_S_CRTM_VERSION";
    case kEvCpuMicrocode:
      return "EV_CPU_MICROCODE";
    case kEvPlatformConfigFlags:
      return "EV_PLATFORM_CONFIG_FLAGS";
    case kEvTableOfDevices:
      return "EV_TABLE_OF_DEVICES";
    case kEvCompactHash:
      return "EV_COMPACT_HASH";
    case kEvIpl:
      return "EV_IPL";
    case kEvIplPartitionData:
      return "EV_IPL_PARTITION_DATA";
    case kEvNonhostCode:
      return "EV_NONHOST_CODE";
    case kEvNonhostConfig:
      return "EV_NONHOST_CONFIG";
    case kEvNonhostInfo:
      return "EV_NONHOST_INFO";
    case kEvOmitBootDeviceEvents:
      return "EV_OMIT_BOOT_DEVICE_EVENTS";
    case kEvPostCode2:
      return "EV_POST_CODE2";
    case kEvEfiVariableDriverConfig:
      return "EV_EFI_VARIABLE_DRIVER_CONFIG";
    case kEvEfiVariableBoot:
      return "EV_EFI_VARIABLE_BOOT";
    case kEvEfiBootServicesApplication:
      return "EV_EFI_BOOT_SERVICES_APPLICATION";
    case kEvEfiBootServicesDriver:
      return "EV_EFI_BOOT_SERVICES_DRIVER";
    case kEvEfiRuntimeServicesDriver:
      return "EV_EFI_RUNTIME_SERVICES_DRIVER";
    case kEvEfiGptEvent:
      return "EV_EFI_GPT_EVENT";
    case kEvEfiAction:
      return "EV_EFI_ACTION";
    case kEvEfiPlatformFirmwareBlob:
      return "EV_EFI_PLATFORM_FIRMWARE_BLOB";
    case kEvEfiHandoffTables:
      return "EV_EFI_HANDOFF_TABLES";
    case kEvEfiPlatformFirmwareBlob2:
      return "EV_EFI_PLATFORM_FIRMWARE_BLOB2";
    case kEvEfiHandoffTables2:
      return "EV_EFI_HANDOFF_TABLES2";
    case kEvEfiVariableBoot2:
      return "EV_EFI_VARIABLE_BOOT2";
    case kEvEfiGptEvent2:
      return "EV_EFI_GPT_EVENT2";
    case kEvEfiHcrtmEvent:
      return "EV_EFI_HCRTM_EVENT";
    case kEvEfiVariableAuthority:
      return "EV_EFI_VARIABLE_AUTHORITY";
    case kEvEfiSpdmFirmwareBlob:
      return "EV_EFI_SPDM_FIRMWARE_BLOB";
    case kEvEfiSpdmFirmwareConfig:
      return "EV_EFI_SPDM_FIRMWARE_CONFIG";
    default:
      return "EV_UNKNOWN";
  }
}

}  // namespace attestd::uefi
