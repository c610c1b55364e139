#include "verifiers/uefi/eventlog_decode.h"

#include <cinttypes>
#include <cstdio>

#include "verifiers/uefi/byte_reader.h"

namespace attestd::uefi {
namespace {

constexpr Guid MakeGuid(uint32_t d1, uint16_t d2, uint16_t d3, std::array<uint8_t, 8> d4) {
  Guid g;
  for (int i = 0; i < 4; ++i) g.bytes[i] = static_cast<uint8_t>(d1 >> (8 * i));
  for (int i = 0; i < 2; ++i) g.bytes[4 + i] = static_cast<uint8_t>(d2 >> (8 * i));
  for (int i = 0; i < 2; ++i) g.bytes[6 + i] = static_cast<uint8_t>(d3 >> (8 * i));
  for (int i = 0; i < 8; ++i) g.bytes[8 + i] = d4[i];
  return g;
}

bool ReadGuid(ByteReader& r, Guid* g) {
  std::string_view b;
  if (!r.Bytes(16, &b)) return false;
  *g = Guid::FromBytes(b);
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

std::string Hex(std::string_view b) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (unsigned char c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Fmt(const char* fmt, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), fmt, a, b, c);
  return buf;
}

uint32_t ByteReaderU32(std::string_view b) {
  ByteReader r(b);
  uint32_t v = 0;
  r.U32(&v);
  return v;
}

// The text of one device path node (UEFI spec, "Device Path to Text").
std::string NodeText(uint8_t type, uint8_t sub, std::string_view d) {
  ByteReader r(d);
  if (type == 0x01 && sub == 0x01 && d.size() == 2) {  // PCI: function, device
    return Fmt("Pci(0x%" PRIx64 ",0x%" PRIx64 ")", static_cast<uint8_t>(d[1]),
               static_cast<uint8_t>(d[0]));
  }
  if (type == 0x02 && sub == 0x01 && d.size() == 8) {  // ACPI: _HID, _UID
    uint32_t hid = 0, uid = 0;
    r.U32(&hid);
    r.U32(&uid);
    if (hid == 0x0a0341d0) return Fmt("PciRoot(0x%" PRIx64 ")", uid);
    if (hid == 0x0a0841d0) return Fmt("PcieRoot(0x%" PRIx64 ")", uid);
    return Fmt("Acpi(PNP%04" PRIX64 ",0x%" PRIx64 ")", hid >> 16, uid);
  }
  if (type == 0x03 && sub == 0x02 && d.size() == 4) {  // SCSI: target, LUN
    uint16_t pun = 0, lun = 0;
    r.U16(&pun);
    r.U16(&lun);
    return Fmt("SCSI(%" PRIu64 ",%" PRIu64 ")", pun, lun);
  }
  if (type == 0x03 && sub == 0x05 && d.size() == 2) {  // USB: parent port, interface
    return Fmt("USB(%" PRIu64 ",%" PRIu64 ")", static_cast<uint8_t>(d[0]),
               static_cast<uint8_t>(d[1]));
  }
  if (type == 0x03 && sub == 0x12 && d.size() == 6) {  // SATA
    uint16_t hba = 0, pm = 0, lun = 0;
    r.U16(&hba);
    r.U16(&pm);
    r.U16(&lun);
    return Fmt("Sata(%" PRIu64 ",%" PRIu64 ",%" PRIu64 ")", hba, pm, lun);
  }
  if (type == 0x03 && sub == 0x17 && d.size() == 12) {  // NVMe namespace
    uint32_t nsid = 0;
    r.U32(&nsid);
    std::string eui;
    for (size_t i = 4; i < 12; ++i) {
      if (i > 4) eui.push_back('-');
      eui += Fmt("%02" PRIX64, static_cast<uint8_t>(d[i]));
    }
    return Fmt("NVMe(0x%" PRIx64 ",", nsid) + eui + ")";
  }
  if (type == 0x03 && sub == 0x0b && d.size() == 33) {  // MAC address, interface type
    uint8_t if_type = static_cast<uint8_t>(d[32]);
    size_t n = if_type <= 1 ? 6 : 32;  // Ethernet / 802.3: 6 bytes are the address
    return "MAC(" + Hex(d.substr(0, n)) + Fmt(",%" PRIu64 ")", if_type);
  }
  if (type == 0x03 && sub == 0x0c && d.size() >= 15) {  // IPv4: local, remote, ports, …
    auto ip = [&](size_t at) {
      return Fmt("%" PRIu64 ".%" PRIu64 ".", static_cast<uint8_t>(d[at]),
                 static_cast<uint8_t>(d[at + 1])) +
             Fmt("%" PRIu64 ".%" PRIu64, static_cast<uint8_t>(d[at + 2]),
                 static_cast<uint8_t>(d[at + 3]));
    };
    uint16_t protocol = static_cast<uint8_t>(d[12]) | (static_cast<uint8_t>(d[13]) << 8);
    return "IPv4(" + ip(4) + Fmt(",%" PRIu64 ",", protocol) + (d[14] ? "Static," : "DHCP,") +
           ip(0) + ")";
  }
  if (type == 0x04 && sub == 0x01 && d.size() == 38) {  // hard drive partition
    uint32_t part = 0;
    uint64_t start = 0, size = 0;
    std::string_view sig;
    uint8_t format = 0, sig_type = 0;
    r.U32(&part);
    r.U64(&start);
    r.U64(&size);
    r.Bytes(16, &sig);
    r.U8(&format);
    r.U8(&sig_type);
    std::string id = sig_type == 2 ? "GPT," + Guid::FromBytes(sig).ToString()
                     : sig_type == 1
                         ? "MBR," + Fmt("0x%08" PRIx64, static_cast<uint32_t>(ByteReaderU32(sig)))
                         : "0," + Hex(sig);
    return Fmt("HD(%" PRIu64 ",", part) + id + Fmt(",0x%" PRIx64 ",0x%" PRIx64 ")", start, size);
  }
  if (type == 0x04 && sub == 0x04) return "File(" + EventText(d) + ")";
  if (type == 0x04 && (sub == 0x06 || sub == 0x07) && d.size() == 16) {
    return std::string(sub == 0x06 ? "FvFile(" : "FvVol(") + Guid::FromBytes(d).ToString() + ")";
  }
  if (type == 0x04 && sub == 0x08 && d.size() == 20) {  // relative offset range
    uint32_t reserved = 0;
    uint64_t start = 0, end = 0;
    r.U32(&reserved);
    r.U64(&start);
    r.U64(&end);
    return Fmt("Offset(0x%" PRIx64 ",0x%" PRIx64 ")", start, end);
  }
  return Fmt("Path(%" PRIu64 ",%" PRIu64 ",", type, sub) + Hex(d) + ")";
}

}  // namespace

Guid Guid::FromBytes(std::string_view sixteen) {
  Guid g;
  for (size_t i = 0; i < 16 && i < sixteen.size(); ++i) g.bytes[i] = sixteen[i];
  return g;
}

std::string Guid::ToString() const {
  const auto& b = bytes;
  char buf[40];
  std::snprintf(buf, sizeof(buf),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3], b[2],
                b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return buf;
}

const Guid kEfiGlobalVariable =
    MakeGuid(0x8be4df61, 0x93ca, 0x11d2, {0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c});
const Guid kEfiImageSecurityDatabase =
    MakeGuid(0xd719b2cb, 0x3d3a, 0x4596, {0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f});
const Guid kShimLockGuid =
    MakeGuid(0x605dab50, 0xe046, 0x4300, {0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23});
const Guid kEfiCertX509Guid =
    MakeGuid(0xa5c059a1, 0x94e4, 0x4aa7, {0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72});
const Guid kEfiCertSha256Guid =
    MakeGuid(0xc1c41626, 0x504c, 0x4092, {0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28});

Result<UefiVariable> DecodeVariable(std::string_view event_data) {
  ByteReader r(event_data);
  UefiVariable v;
  uint64_t name_chars = 0, data_size = 0;
  std::string_view name;
  if (!ReadGuid(r, &v.vendor) || !r.U64(&name_chars) || !r.U64(&data_size)) {
    return InvalidArgument("UEFI_VARIABLE_DATA header truncated");
  }
  if (name_chars > r.left() / 2 || !r.Bytes(name_chars * 2, &name)) {
    return InvalidArgument("variable name length " + std::to_string(name_chars) +
                           " exceeds the event");
  }
  if (!r.Bytes(data_size, &v.data)) {
    return InvalidArgument("variable data length " + std::to_string(data_size) +
                           " exceeds the event");
  }
  v.name = Utf16ToUtf8(name);
  v.size = r.offset();
  return v;
}

Result<std::vector<SignatureList>> DecodeSignatureLists(std::string_view data) {
  std::vector<SignatureList> out;
  ByteReader r(data);
  while (!r.done()) {
    SignatureList l;
    uint32_t list_size = 0;
    if (!ReadGuid(r, &l.type) || !r.U32(&list_size) || !r.U32(&l.header_size) ||
        !r.U32(&l.signature_size)) {
      return InvalidArgument("EFI_SIGNATURE_LIST header truncated");
    }
    uint64_t body = static_cast<uint64_t>(list_size);
    if (body < 28 + static_cast<uint64_t>(l.header_size) || body - 28 > r.left()) {
      return InvalidArgument("EFI_SIGNATURE_LIST size " + std::to_string(list_size) +
                             " does not fit");
    }
    body -= 28 + l.header_size;
    if (l.signature_size < 16 || body % l.signature_size != 0) {
      return InvalidArgument("EFI_SIGNATURE_LIST signature size " +
                             std::to_string(l.signature_size) + " does not divide the list");
    }
    r.Skip(l.header_size);
    for (uint64_t n = body / l.signature_size; n > 0; --n) {
      SignatureData s;
      ReadGuid(r, &s.owner);
      r.Bytes(l.signature_size - 16, &s.data);
      l.signatures.push_back(s);
    }
    out.push_back(std::move(l));
  }
  return out;
}

Result<SignatureData> DecodeSignatureData(std::string_view data) {
  ByteReader r(data);
  SignatureData s;
  if (!ReadGuid(r, &s.owner)) return InvalidArgument("EFI_SIGNATURE_DATA truncated");
  s.data = r.Rest();
  return s;
}

Result<ImageLoad> DecodeImageLoad(std::string_view event_data, bool uintn32) {
  ByteReader r(event_data);
  ImageLoad img;
  uint64_t path_size = 0;
  uint32_t length32 = 0, link32 = 0, path32 = 0;
  bool ok = r.U64(&img.location);  // EFI_PHYSICAL_ADDRESS: always 64 bits
  if (uintn32) {
    ok = ok && r.U32(&length32) && r.U32(&link32) && r.U32(&path32);
    img.length = length32;
    img.link_time_address = link32;
    path_size = path32;
  } else {
    ok = ok && r.U64(&img.length) && r.U64(&img.link_time_address) && r.U64(&path_size);
  }
  if (!ok) return InvalidArgument("UEFI_IMAGE_LOAD_EVENT truncated");
  if (!r.Bytes(path_size, &img.device_path)) {
    return InvalidArgument("device path length " + std::to_string(path_size) +
                           " exceeds the event");
  }
  return img;
}

Status CheckDevicePath(std::string_view path) {
  ByteReader r(path);
  while (!r.done()) {
    uint8_t type = 0, sub = 0;
    uint16_t len = 0;
    if (!r.U8(&type) || !r.U8(&sub) || !r.U16(&len))
      return InvalidArgument("device path node truncated");
    if (len < 4 || !r.Skip(len - 4)) {
      return InvalidArgument("device path node length " + std::to_string(len) + " does not fit");
    }
  }
  return Status::Ok();
}

Result<std::string> DevicePathToText(std::string_view path) {
  std::string out;
  ByteReader r(path);
  bool need_slash = false;
  while (!r.done()) {
    uint8_t type = 0, sub = 0;
    uint16_t len = 0;
    std::string_view d;
    if (!r.U8(&type) || !r.U8(&sub) || !r.U16(&len))
      return InvalidArgument("device path node truncated");
    if (len < 4 || !r.Bytes(len - 4, &d)) {
      return InvalidArgument("device path node length " + std::to_string(len) + " does not fit");
    }
    if (type == 0x7f) {  // end of an instance (",") or of the whole path
      if (sub == 0x01) out.push_back(',');
      need_slash = false;
      if (sub == 0xff) break;
      continue;
    }
    if (need_slash) out.push_back('/');
    out += NodeText(type, sub, d);
    need_slash = true;
  }
  return out;
}

Result<GptData> DecodeGpt(std::string_view event_data) {
  ByteReader r(event_data);
  std::string_view sig;
  GptData g;
  uint32_t header_size = 0;
  if (!r.Bytes(8, &sig) || !r.Skip(4) || !r.U32(&header_size)) {
    return InvalidArgument("GPT header truncated");
  }
  if (sig != "EFI PART") return InvalidArgument("GPT header signature is not EFI PART");
  // The header proper is 92 bytes whatever HeaderSize says; UEFI_GPT_DATA
  // copies exactly that many.
  if (!r.Skip(4 + 4 + 8 + 8 + 8 + 8) || !r.Bytes(16, &g.disk_guid) || !r.Skip(8 + 4) ||
      !r.U32(&g.partition_entry_size) || !r.Skip(4) || !r.U64(&g.partitions)) {
    return InvalidArgument("UEFI_GPT_DATA truncated");
  }
  if (g.partitions > 0 &&
      (g.partition_entry_size == 0 || g.partitions > r.left() / g.partition_entry_size)) {
    return InvalidArgument(std::to_string(g.partitions) + " partitions exceed the event");
  }
  return g;
}

Result<FirmwareBlob> DecodeFirmwareBlob(std::string_view event_data, bool blob2) {
  ByteReader r(event_data);
  FirmwareBlob b;
  if (blob2) {
    uint8_t n = 0;
    std::string_view desc;
    if (!r.U8(&n) || !r.Bytes(n, &desc)) return InvalidArgument("blob description truncated");
    b.description.assign(desc);
  }
  if (!r.U64(&b.base) || !r.U64(&b.length)) return InvalidArgument("firmware blob truncated");
  return b;
}

Result<TaggedEvent> DecodeTaggedEvent(std::string_view event_data) {
  ByteReader r(event_data);
  TaggedEvent t;
  uint32_t size = 0;
  if (!r.U32(&t.id) || !r.U32(&size) || !r.Bytes(size, &t.data)) {
    return InvalidArgument("tagged event truncated");
  }
  return t;
}

Result<uint8_t> DecodeStartupLocality(std::string_view event_data) {
  constexpr std::string_view kSig("StartupLocality\0", 16);
  if (event_data.substr(0, kSig.size()) != kSig) return NotFound("not a StartupLocality event");
  if (event_data.size() != kSig.size() + 1) return InvalidArgument("StartupLocality size");
  return static_cast<uint8_t>(event_data[kSig.size()]);
}

std::string Utf16ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() / 2);
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    uint32_t u = static_cast<uint8_t>(s[i]) | (static_cast<uint8_t>(s[i + 1]) << 8);
    if (u >= 0xd800 && u < 0xdc00 && i + 3 < s.size()) {
      uint32_t lo = static_cast<uint8_t>(s[i + 2]) | (static_cast<uint8_t>(s[i + 3]) << 8);
      if (lo >= 0xdc00 && lo < 0xe000) {
        AppendUtf8(0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00), &out);
        i += 2;
        continue;
      }
    }
    AppendUtf8(u >= 0xd800 && u < 0xe000 ? 0xfffd : u, &out);
  }
  return out;
}

std::string EventText(std::string_view d) {
  bool utf16 = d.size() >= 4 && d.size() % 2 == 0;
  for (size_t i = 1; utf16 && i < d.size(); i += 2) utf16 = d[i] == 0;
  std::string out = utf16 ? Utf16ToUtf8(d) : std::string(d);
  if (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

}  // namespace attestd::uefi
