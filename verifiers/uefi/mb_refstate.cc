#include "verifiers/uefi/mb_refstate.h"

#include <simdjson.h>

#include <cctype>

#include "common/base64.h"
#include "common/json_writer.h"
#include "verifiers/uefi/eventlog_decode.h"
#include "verifiers/uefi/summary.h"

namespace attestd::uefi {
namespace {

using simdjson::dom::element;

Status FieldError(const std::string& path, const std::string& why) {
  return InvalidArgument("refstate" + path + ": " + why);
}

// Keylime's hex_test: "0x" then one or more lower-case hex digits.
bool IsHex0x(std::string_view s) {
  if (s.size() < 3 || s.substr(0, 2) != "0x") return false;
  for (char c : s.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ReadHex(element e, const std::string& path, std::string* out) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS || !IsHex0x(s)) {
    return FieldError(path, "not 0x followed by lower-case hex digits");
  }
  out->assign(s.substr(2));
  return Status::Ok();
}

Status ReadDigest(element e, const std::string& path, DigestMap* out) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return FieldError(path, "not an object");
  for (auto [key, value] : obj) {
    Status s = ReadHex(value, path + "." + std::string(key), &(*out)[std::string(key)]);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ReadDigestList(element e, const std::string& path, std::vector<DigestMap>* out) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return FieldError(path, "not a list");
  size_t i = 0;
  for (element d : arr) {
    out->emplace_back();
    Status s = ReadDigest(d, path + "[" + std::to_string(i++) + "]", &out->back());
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Required(simdjson::dom::object obj, std::string_view key, const std::string& path,
                element* out) {
  if (obj[key].get(*out) != simdjson::SUCCESS) {
    return FieldError(path + "." + std::string(key), "missing");
  }
  return Status::Ok();
}

Status ReadSignatures(element e, const std::string& path, std::vector<RefSignature>* out) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return FieldError(path, "not a list");
  size_t i = 0;
  for (element sig : arr) {
    std::string p = path + "[" + std::to_string(i++) + "]";
    simdjson::dom::object obj;
    if (sig.get_object().get(obj) != simdjson::SUCCESS) return FieldError(p, "not an object");
    element owner, data;
    Status s = Required(obj, "SignatureOwner", p, &owner);
    if (s.ok()) s = Required(obj, "SignatureData", p, &data);
    if (!s.ok()) return s;
    std::string_view o, d;
    if (owner.get_string().get(o) != simdjson::SUCCESS) {
      return FieldError(p + ".SignatureOwner", "not a string");
    }
    // Keylime strips the 0x without testing the digits (sig_strip0x).
    if (data.get_string().get(d) != simdjson::SUCCESS || d.substr(0, 2) != "0x") {
      return FieldError(p + ".SignatureData", "does not start with 0x");
    }
    out->push_back({std::string(o), std::string(d.substr(2))});
  }
  return Status::Ok();
}

Status ReadScrtmAndBios(element e, std::vector<ScrtmAndBios>* out) {
  const std::string path = ".scrtm_and_bios";
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return FieldError(path, "not a list");
  size_t i = 0;
  for (element entry : arr) {
    std::string p = path + "[" + std::to_string(i++) + "]";
    simdjson::dom::object obj;
    if (entry.get_object().get(obj) != simdjson::SUCCESS) return FieldError(p, "not an object");
    element scrtm, pf;
    Status s = Required(obj, "scrtm", p, &scrtm);
    if (s.ok()) s = Required(obj, "platform_firmware", p, &pf);
    out->emplace_back();
    if (s.ok()) s = ReadDigest(scrtm, p + ".scrtm", &out->back().scrtm);
    if (s.ok()) s = ReadDigestList(pf, p + ".platform_firmware", &out->back().platform_firmware);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ReadKernel(simdjson::dom::object obj, const std::string& p, bool secureboot,
                  AllowedKernel* k) {
  struct Field {
    const char* name;
    std::string* out;
  };
  std::vector<Field> fields = {{"shim_authcode_sha256", &k->shim_authcode_sha256},
                               {"grub_authcode_sha256", &k->grub_authcode_sha256}};
  if (secureboot) {
    fields.push_back({"kernel_authcode_sha256", &k->kernel_authcode_sha256});
  } else {
    fields.push_back({"vmlinuz_plain_sha256", &k->vmlinuz_plain_sha256});
  }
  fields.push_back({"initrd_plain_sha256", &k->initrd_plain_sha256});
  for (const Field& f : fields) {
    element e;
    Status s = Required(obj, f.name, p, &e);
    if (s.ok()) s = ReadHex(e, p + "." + f.name, f.out);
    if (!s.ok()) return s;
  }
  element cmd;
  Status s = Required(obj, "kernel_cmdline", p, &cmd);
  if (!s.ok()) return s;
  std::string_view re;
  if (cmd.get_string().get(re) != simdjson::SUCCESS) {
    return FieldError(p + ".kernel_cmdline", "not a string");
  }
  k->kernel_cmdline.assign(re);
  try {
    k->cmdline_re = std::make_shared<const std::regex>("kernel_cmdline: " + k->kernel_cmdline,
                                                       std::regex::ECMAScript);
  } catch (const std::regex_error& err) {
    return FieldError(p + ".kernel_cmdline", std::string("not a valid regex: ") + err.what());
  }
  return Status::Ok();
}

Status ReadKernels(element e, bool secureboot, std::vector<AllowedKernel>* out) {
  const std::string path = ".kernels";
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return FieldError(path, "not a list");
  size_t i = 0;
  for (element entry : arr) {
    std::string p = path + "[" + std::to_string(i++) + "]";
    simdjson::dom::object obj;
    if (entry.get_object().get(obj) != simdjson::SUCCESS) return FieldError(p, "not an object");
    out->emplace_back();
    Status s = ReadKernel(obj, p, secureboot, &out->back());
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// sha256 digest of an event as create_mb_policy writes it ("0x…"), or
// empty when the log has no sha256 bank.
std::string Sha256Of(const EventLog& log, const Event& e) {
  int bank = log.BankIndex(kAlgSha256);
  if (bank < 0 || e.digests[bank].empty()) return "";
  return "0x" + HexEncode(e.digests[bank]);
}

void WriteSha256Map(JsonWriter& w, const std::string& hex) {
  w.BeginObject();
  if (!hex.empty()) w.Key("sha256").String(hex);
  w.EndObject();
}

void WriteSignatures(JsonWriter& w, const std::vector<SignatureList>& lists) {
  w.BeginArray();
  for (const SignatureList& l : lists) {
    for (const SignatureData& s : l.signatures) {
      w.BeginObject().Key("SignatureOwner").String(s.owner.ToString());
      w.Key("SignatureData").String("0x" + HexEncode(s.data)).EndObject();
    }
  }
  w.EndArray();
}

bool IsFirmwareApp(std::string_view path) {
  // create_mb_policy skips UEFI applications in firmware volumes (boot
  // menus and the like): FvVol(<guid>)/FvFile(<guid>) at the start.
  return path.substr(0, 6) == "FvVol(" && path.find(")/FvFile(") == 42;
}

}  // namespace

Result<RefState> ParseRefState(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc) != simdjson::SUCCESS) {
    return FieldError("", "not JSON");
  }
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return FieldError("", "not an object");
  RefState ref;
  element e;
  if (root["has_secureboot"].get(e) == simdjson::SUCCESS &&
      e.get_bool().get(ref.has_secureboot) != simdjson::SUCCESS) {
    return FieldError(".has_secureboot", "not a boolean");
  }
  Status s = Required(root, "kernels", "", &e);
  if (s.ok()) s = ReadKernels(e, ref.has_secureboot, &ref.kernels);
  if (s.ok()) s = Required(root, "scrtm_and_bios", "", &e);
  if (s.ok()) s = ReadScrtmAndBios(e, &ref.scrtm_and_bios);
  const std::pair<const char*, std::vector<RefSignature>*> sigs[] = {
      {"pk", &ref.pk}, {"kek", &ref.kek}, {"db", &ref.db}, {"dbx", &ref.dbx}};
  for (const auto& [name, out] : sigs) {
    if (s.ok()) s = Required(root, name, "", &e);
    if (s.ok()) s = ReadSignatures(e, std::string(".") + name, out);
  }
  if (s.ok()) s = Required(root, "mokdig", "", &e);
  if (s.ok()) s = ReadDigestList(e, ".mokdig", &ref.mokdig);
  if (s.ok()) s = Required(root, "mokxdig", "", &e);
  if (s.ok()) s = ReadDigestList(e, ".mokxdig", &ref.mokxdig);
  if (s.ok() && root["vendor_db"].get(e) == simdjson::SUCCESS) {
    s = ReadSignatures(e, ".vendor_db", &ref.vendor_db);
  }
  if (!s.ok()) return s;
  return ref;
}

std::string RegexEscape(std::string_view s) {
  static constexpr std::string_view kSpecial = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f";
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    if (kSpecial.find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

namespace {

// What a reference state records of a log, gathered in one pass.
struct RefStateParts {
  std::string initrd, vmlinuz, cmdline, scrtm;
  bool have_initrd = false, have_vmlinuz = false, have_cmdline = false, have_scrtm = false;
  std::vector<std::string> firmware, mok, mokx;
  std::vector<SignatureList> pk, kek, db, dbx;
  std::vector<SignatureData> vendor_db;
};

// Boot applications loaded from disk (not firmware), as SHA-256 hex.
Result<std::vector<std::string>> DiskApplications(const EventLog& log, const BootSummary& summary,
                                                  bool secureboot) {
  std::vector<std::string> apps;
  for (const BootApplication& a : summary.boot_applications) {
    if (IsFirmwareApp(a.device_path)) continue;
    apps.push_back(Sha256Of(log, log.events[a.event_index]));
  }
  if (secureboot ? (apps.size() != 3 && apps.size() != 4) : apps.size() != 2) {
    return InvalidArgument("expected " +
                           std::string(secureboot ? "3 (shim, grub, kernel)" : "2 (shim, grub)") +
                           " boot applications, the log has " + std::to_string(apps.size()));
  }
  return apps;
}

void CollectDriverConfig(const Event& e, RefStateParts& p) {
  auto v = DecodeVariable(e.data);
  if (!v.ok()) return;
  std::string name = v->name;
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto lists = DecodeSignatureLists(v->data);
  std::vector<SignatureList> value = lists.ok() ? std::move(*lists) : std::vector<SignatureList>{};
  if (name == "pk") p.pk = std::move(value);
  if (name == "kek") p.kek = std::move(value);
  if (name == "db") p.db = std::move(value);
  if (name == "dbx") p.dbx = std::move(value);
}

void CollectAuthority(const Event& e, RefStateParts& p) {
  auto v = DecodeVariable(e.data);
  if (!v.ok() || v->name != "vendor_db") return;
  auto sig = DecodeSignatureData(v->data);
  if (sig.ok()) p.vendor_db.push_back(*sig);
}

// Shim's MOK lists, and the initrd, kernel and command line grub logged in
// PCRs 8 and 9 (the first of each).
void CollectIpl(const EventLog& log, const Event& e, RefStateParts& p) {
  std::string text = EventText(e.data);
  if (text == "MokList") p.mok.push_back(Sha256Of(log, e));
  if (text == "MokListX") p.mokx.push_back(Sha256Of(log, e));
  if (e.pcr == 9 && !p.have_initrd &&
      (text.find("initrd") != std::string::npos || text.find("initramfs") != std::string::npos)) {
    p.have_initrd = true;
    p.initrd = Sha256Of(log, e);
  }
  if (e.pcr == 9 && !p.have_vmlinuz && text.find("vmlinuz") != std::string::npos) {
    p.have_vmlinuz = true;
    p.vmlinuz = Sha256Of(log, e);
  }
  if (e.pcr == 8 && !p.have_cmdline && text.find("kernel_cmdline") != std::string::npos) {
    p.have_cmdline = true;
    p.cmdline = RegexEscape(text.size() > 16 ? std::string_view(text).substr(16) : "");
  }
}

RefStateParts CollectParts(const EventLog& log) {
  RefStateParts p;
  for (const Event& e : log.events) {
    if (e.type == kEvSCrtmVersion && !p.have_scrtm) {
      p.have_scrtm = true;
      p.scrtm = Sha256Of(log, e);
    } else if (e.type == kEvEfiPlatformFirmwareBlob || e.type == kEvEfiPlatformFirmwareBlob2) {
      p.firmware.push_back(Sha256Of(log, e));
    } else if (e.type == kEvEfiVariableDriverConfig) {
      CollectDriverConfig(e, p);
    } else if (e.type == kEvEfiVariableAuthority) {
      CollectAuthority(e, p);
    } else if (e.type == kEvIpl) {
      CollectIpl(log, e, p);
    }
  }
  return p;
}

void WriteFirmwareAndKeys(JsonWriter& w, const RefStateParts& p) {
  w.Key("scrtm_and_bios").BeginArray().BeginObject();
  if (p.have_scrtm) {
    w.Key("scrtm");
    WriteSha256Map(w, p.scrtm);
  }
  w.Key("platform_firmware").BeginArray();
  for (const std::string& f : p.firmware) WriteSha256Map(w, f);
  w.EndArray().EndObject().EndArray();
  const std::pair<const char*, const std::vector<SignatureList>*> keys[] = {
      {"pk", &p.pk}, {"kek", &p.kek}, {"db", &p.db}, {"dbx", &p.dbx}};
  for (const auto& [name, lists] : keys) {
    w.Key(name);
    WriteSignatures(w, *lists);
  }
  w.Key("vendor_db").BeginArray();
  for (const SignatureData& s : p.vendor_db) {
    w.BeginObject().Key("SignatureOwner").String(s.owner.ToString());
    w.Key("SignatureData").String("0x" + HexEncode(s.data)).EndObject();
  }
  w.EndArray();
}

void WriteMokAndKernels(JsonWriter& w, const RefStateParts& p, const std::vector<std::string>& apps,
                        bool secureboot) {
  w.Key("mokdig").BeginArray();
  for (const std::string& d : p.mok) WriteSha256Map(w, d);
  w.EndArray().Key("mokxdig").BeginArray();
  for (const std::string& d : p.mokx) WriteSha256Map(w, d);
  w.EndArray();
  w.Key("kernels").BeginArray().BeginObject();
  w.Key("shim_authcode_sha256").String(apps[0]);
  w.Key("grub_authcode_sha256").String(apps[1]);
  if (secureboot) w.Key("kernel_authcode_sha256").String(apps[2]);
  if (p.have_initrd) w.Key("initrd_plain_sha256").String(p.initrd);
  if (!secureboot && p.have_vmlinuz) w.Key("vmlinuz_plain_sha256").String(p.vmlinuz);
  if (p.have_cmdline) w.Key("kernel_cmdline").String(p.cmdline);
  w.EndObject().EndArray();
}

}  // namespace

Result<std::string> RefStateFromLog(const EventLog& log, bool without_secureboot) {
  BootSummary summary = Summarize(log);
  bool secureboot = summary.secure_boot.value_or(false);
  if (!secureboot && !without_secureboot) {
    return InvalidArgument("the log has Secure Boot disabled (ask for a refstate without it)");
  }
  auto apps = DiskApplications(log, summary, secureboot);
  if (!apps.ok()) return apps.status();
  RefStateParts parts = CollectParts(log);
  JsonWriter w(8192);
  w.BeginObject().Key("has_secureboot").Bool(secureboot);
  WriteFirmwareAndKeys(w, parts);
  WriteMokAndKernels(w, parts, *apps, secureboot);
  w.EndObject();
  return w.Take();
}

}  // namespace attestd::uefi
