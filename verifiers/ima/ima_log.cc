#include "verifiers/ima/ima_log.h"

#include <cstring>

namespace attestd::ima {
namespace {

constexpr size_t kLegacyNameMax = 255;  // TCG_EVENT_NAME_LEN_MAX

// Splits at the first ' ': *head gets the part before it, *rest after it.
// False when there is no space.
bool Cut(std::string_view in, std::string_view* head, std::string_view* rest) {
  size_t sp = in.find(' ');
  if (sp == std::string_view::npos) return false;
  *head = in.substr(0, sp);
  *rest = in.substr(sp + 1);
  return true;
}

// "alg:hex" (d-ng), "type:alg:hex" (d-ngv2, when `v2`), or a bare 20-byte
// (sha1) or 16-byte (md5) hex digest (d).
Status ParseDigest(std::string_view field, bool v2, LogEntry* e) {
  size_t colon = field.rfind(':');
  std::string_view hex = field;
  e->digest_bare = colon == std::string_view::npos;
  if (!e->digest_bare) {
    e->digest_prefix = field.substr(0, colon);
    hex = field.substr(colon + 1);
    size_t first = e->digest_prefix.find(':');
    bool two = first != std::string_view::npos;
    e->digest_alg = two ? e->digest_prefix.substr(first + 1) : e->digest_prefix;
    if (e->digest_alg.empty() || two != v2 ||
        (two && (first == 0 || e->digest_alg.find(':') != std::string_view::npos))) {
      return InvalidArgument("malformed digest '" + std::string(field.substr(0, 80)) + "'");
    }
  } else if (v2) {
    return InvalidArgument("a d-ngv2 digest needs a type and an algorithm");
  }
  if (!DecodeHex(hex, &e->digest)) {
    return InvalidArgument("digest is not hex (at most 64 bytes)");
  }
  if (e->digest_bare) {
    if (e->digest.size == 20) {
      e->digest_alg = "sha1";
    } else if (e->digest.size == 16) {
      e->digest_alg = "md5";
    } else {
      return InvalidArgument("a digest without algorithm must be sha1 or md5");
    }
    e->digest_prefix = e->digest_alg;
  }
  return Status::Ok();
}

// An empty field, or a decimal number up to `max`.
bool IsUint(std::string_view s, uint64_t max) {
  if (s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > max) return false;
  }
  return true;
}

Status ParseEvmSigFields(std::string_view rest, LogEntry* e) {
  std::string_view* fields[] = {
      &e->name, &e->evmsig_hex, &e->xattr_names, &e->xattr_lengths_hex, &e->xattr_values_hex,
      &e->iuid, &e->igid};
  for (std::string_view* f : fields) {
    if (!Cut(rest, f, &rest)) return InvalidArgument("evm-sig needs 9 fields");
  }
  e->imode = rest;
  if (!IsHex(e->evmsig_hex) || !IsHex(e->xattr_lengths_hex) || !IsHex(e->xattr_values_hex)) {
    return InvalidArgument("an evm-sig hex field is not hex");
  }
  if (!IsUint(e->iuid, UINT32_MAX) || !IsUint(e->igid, UINT32_MAX) ||
      !IsUint(e->imode, UINT16_MAX)) {
    return InvalidArgument("evm-sig iuid, igid or imode is not a number");
  }
  return Status::Ok();
}

void PutU32(std::string* out, size_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out->append(b, 4);
}

// d-ng and d-ngv2: the prefix ("sha256", "ima:sha256"), ':', NUL, digest.
void PutDigestNg(std::string* out, std::string_view prefix, const DigestBuf& d) {
  PutU32(out, prefix.size() + 2 + d.size);
  out->append(prefix);
  out->push_back(':');
  out->push_back('\0');
  out->append(d.view());
}

void PutNameNg(std::string* out, std::string_view name) {
  PutU32(out, name.size() + 1);
  out->append(name);
  out->push_back('\0');
}

// Length-prefixed bytes of a hex field (checked by the parser).
void PutHexField(std::string* out, std::string_view hex) {
  PutU32(out, hex.size() / 2);
  size_t at = out->size();
  out->resize(at + hex.size() / 2);
  size_t n = 0;
  DecodeHex(hex, reinterpret_cast<uint8_t*>(out->data() + at), hex.size() / 2, &n);
}

// A decimal field as the kernel stores it: `bytes` little-endian bytes, or
// nothing when the field is empty.
void PutUint(std::string* out, std::string_view dec, size_t bytes) {
  if (dec.empty()) {
    PutU32(out, 0);
    return;
  }
  uint64_t v = 0;
  for (char c : dec) v = v * 10 + static_cast<uint64_t>(c - '0');
  PutU32(out, bytes);
  for (size_t i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutEvmSigFields(const LogEntry& e, std::string* out) {
  PutHexField(out, e.evmsig_hex);
  if (e.xattr_names.empty()) {
    PutU32(out, 0);
  } else {
    PutNameNg(out, e.xattr_names);  // a string with its NUL, like n-ng
  }
  PutHexField(out, e.xattr_lengths_hex);
  PutHexField(out, e.xattr_values_hex);
  PutUint(out, e.iuid, 4);
  PutUint(out, e.igid, 4);
  PutUint(out, e.imode, 2);
}

}  // namespace

const char* TemplateName(Template t) {
  switch (t) {
    case Template::kIma:
      return "ima";
    case Template::kImaNg:
      return "ima-ng";
    case Template::kImaSig:
      return "ima-sig";
    case Template::kImaBuf:
      return "ima-buf";
    case Template::kImaModsig:
      return "ima-modsig";
    case Template::kImaNgV2:
      return "ima-ngv2";
    case Template::kImaSigV2:
      return "ima-sigv2";
    case Template::kEvmSig:
      return "evm-sig";
  }
  return "?";
}

Status ParseLogEntry(std::string_view line, LogEntry* e) {
  *e = LogEntry();
  std::string_view tmpl, rest, digest;
  if (!Cut(line, &e->pcr, &rest) || !Cut(rest, &e->template_hash_hex, &rest) ||
      !Cut(rest, &tmpl, &rest)) {
    return InvalidArgument("expected 'PCR TEMPLATE-HASH TEMPLATE FIELDS'");
  }
  if (e->pcr.empty() || e->pcr.size() > 2 ||
      e->pcr.find_first_not_of("0123456789") != std::string_view::npos) {
    return InvalidArgument("PCR index is not a number");
  }
  if (e->template_hash_hex.empty() || e->template_hash_hex.size() > 2 * kMaxDigest ||
      !IsHex(e->template_hash_hex)) {
    return InvalidArgument("template hash is not hex");
  }
  if (tmpl == "ima") {
    e->tmpl = Template::kIma;
  } else if (tmpl == "ima-ng") {
    e->tmpl = Template::kImaNg;
  } else if (tmpl == "ima-sig") {
    e->tmpl = Template::kImaSig;
  } else if (tmpl == "ima-buf") {
    e->tmpl = Template::kImaBuf;
  } else if (tmpl == "ima-modsig") {
    e->tmpl = Template::kImaModsig;
  } else if (tmpl == "ima-ngv2") {
    e->tmpl = Template::kImaNgV2;
  } else if (tmpl == "ima-sigv2") {
    e->tmpl = Template::kImaSigV2;
  } else if (tmpl == "evm-sig") {
    e->tmpl = Template::kEvmSig;
  } else {
    return InvalidArgument("template '" + std::string(tmpl.substr(0, 32)) + "' is not supported");
  }
  if (!Cut(rest, &digest, &rest)) return InvalidArgument("expected a digest and a name");
  bool v2 = e->tmpl == Template::kImaNgV2 || e->tmpl == Template::kImaSigV2;
  Status s = ParseDigest(digest, v2, e);
  if (!s.ok()) return s;
  switch (e->tmpl) {
    case Template::kIma:
      if (!e->digest_bare && e->digest.size != 20) {
        return InvalidArgument("the ima template holds a 20-byte digest");
      }
      if (rest.size() > kLegacyNameMax) return InvalidArgument("name longer than 255 bytes");
      e->name = rest;
      return Status::Ok();
    case Template::kImaNg:
    case Template::kImaNgV2:
      e->name = rest;
      return Status::Ok();
    case Template::kEvmSig:
      return ParseEvmSigFields(rest, e);
    case Template::kImaSig:
    case Template::kImaSigV2:
    case Template::kImaBuf: {
      std::string_view hex;
      if (!Cut(rest, &e->name, &hex)) return InvalidArgument("expected a name and a hex field");
      if (!IsHex(hex)) return InvalidArgument("signature/buffer field is not hex");
      (e->tmpl == Template::kImaBuf ? e->buf_hex : e->sig_hex) = hex;
      return Status::Ok();
    }
    case Template::kImaModsig: {
      if (!Cut(rest, &e->name, &rest) || !Cut(rest, &e->sig_hex, &rest) ||
          !Cut(rest, &e->modsig_digest, &e->modsig_hex)) {
        return InvalidArgument("expected name, sig, d-modsig and modsig");
      }
      if (!IsHex(e->sig_hex) || !IsHex(e->modsig_hex)) {
        return InvalidArgument("sig or modsig field is not hex");
      }
      if (!e->modsig_digest.empty()) {
        LogEntry tmp;
        Status ms = ParseDigest(e->modsig_digest, false, &tmp);
        if (!ms.ok() || tmp.digest_bare) return InvalidArgument("malformed d-modsig");
      }
      return Status::Ok();
    }
  }
  return InvalidArgument("unreachable");
}

bool LogReader::Next(std::string_view* line, uint64_t* line_no) {
  while (!rest_.empty()) {
    size_t nl = rest_.find('\n');
    std::string_view l = rest_.substr(0, nl);
    rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
    ++line_no_;
    if (l.empty()) continue;
    *line = l;
    *line_no = line_no_;
    return true;
  }
  return false;
}

void EncodeTemplateData(const LogEntry& e, std::string* out) {
  out->clear();
  if (e.tmpl == Template::kIma) {
    // The legacy template has no length prefixes: a 20-byte digest, then the
    // name NUL-padded to TCG_EVENT_NAME_LEN_MAX + 1 bytes.
    out->append(e.digest.view());
    out->append(e.name);
    out->append(kLegacyNameMax + 1 - e.name.size(), '\0');
    return;
  }
  PutDigestNg(out, e.digest_prefix, e.digest);
  PutNameNg(out, e.name);
  switch (e.tmpl) {
    case Template::kImaSig:
    case Template::kImaSigV2:
      PutHexField(out, e.sig_hex);
      break;
    case Template::kEvmSig:
      PutEvmSigFields(e, out);
      break;
    case Template::kImaBuf:
      PutHexField(out, e.buf_hex);
      break;
    case Template::kImaModsig:
      PutHexField(out, e.sig_hex);
      if (e.modsig_digest.empty()) {
        PutU32(out, 0);
      } else {
        LogEntry tmp;
        (void)ParseDigest(e.modsig_digest, false, &tmp);  // checked by the parser
        PutDigestNg(out, tmp.digest_prefix, tmp.digest);
      }
      PutHexField(out, e.modsig_hex);
      break;
    default:
      break;
  }
}

}  // namespace attestd::ima
