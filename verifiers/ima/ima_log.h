// The IMA ASCII measurement list (securityfs ascii_runtime_measurements):
// one entry per line, "PCR TEMPLATE-HASH TEMPLATE-NAME FIELDS...", parsed
// into views of the log text (nothing is copied), and the template data the
// kernel hashes for an entry, rebuilt from those fields.
//
// Templates: ima (legacy d|n), ima-ng (d-ng|n-ng), ima-sig (d-ng|n-ng|sig),
// ima-buf (d-ng|n-ng|buf), ima-modsig (d-ng|n-ng|sig|d-modsig|modsig),
// ima-ngv2 and ima-sigv2 (d-ngv2: "ima:sha256:<hex>" or "verity:..."), and
// evm-sig (d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|
// imode). The evm-sig encoding follows the kernel's ima_template_lib.c; no
// real evm-sig list has been checked against it.
// Fields are split on single spaces as Keylime does: the last field takes
// the rest of the line, and a template with a trailing field keeps the
// space before it even when the field is empty.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "verifiers/ima/ima_hash.h"

namespace attestd::ima {

enum class Template : uint8_t {
  kIma,
  kImaNg,
  kImaSig,
  kImaBuf,
  kImaModsig,
  kImaNgV2,
  kImaSigV2,
  kEvmSig
};

const char* TemplateName(Template t);

// One parsed line. Every view points into the log text.
struct LogEntry {
  std::string_view pcr;                // "10" normally; checked by the appraisal
  std::string_view template_hash_hex;  // as logged
  Template tmpl = Template::kImaNg;
  std::string_view digest_prefix;  // what precedes ":<hex>": "sha256", "ima:sha256"
  std::string_view digest_alg;     // "sha256"; "sha1"/"md5" when the log has a bare digest
  bool digest_bare = false;        // logged without "alg:" (always so for the legacy template)
  DigestBuf digest;                // the file (or buffer) digest, decoded
  std::string_view name;           // file path, "boot_aggregate", or a buffer/keyring name
  std::string_view sig_hex;        // ima-sig/ima-modsig 'sig'; empty when unsigned
  std::string_view buf_hex;        // ima-buf 'buf'
  std::string_view modsig_digest;  // ima-modsig 'd-modsig' ("alg:hex") or empty
  std::string_view modsig_hex;     // ima-modsig 'modsig' or empty
  // evm-sig: 'evmsig' and the xattr fields as logged (hex, names, decimal);
  // each may be empty.
  std::string_view evmsig_hex, xattr_names, xattr_lengths_hex, xattr_values_hex;
  std::string_view iuid, igid, imode;
};

// Parses one line (without its '\n'). Syntax only: the template is known,
// digests and hex fields decode, a legacy name fits 255 bytes. The error
// message says which field is wrong (no line number: the caller adds it).
Status ParseLogEntry(std::string_view line, LogEntry* out);

// Iterates over the non-empty lines of a log without copying it.
class LogReader {
 public:
  explicit LogReader(std::string_view text) : rest_(text) {}
  // The next non-empty line and its 1-based number in the text; false at
  // the end. A '\r' before the '\n' is not removed (the kernel writes none).
  bool Next(std::string_view* line, uint64_t* line_no);

 private:
  std::string_view rest_;
  uint64_t line_no_ = 0;
};

// The template data of `e` in the kernel's encoding (for every template but
// ima: each field as a little-endian u32 length then its bytes; d-ng is
// "alg:\0" + digest, n-ng the name with its NUL; ima: the 20-byte digest and
// the name NUL-padded to 256 bytes). Written into *out, whose capacity is
// reused: no allocation once it has grown to the largest entry.
void EncodeTemplateData(const LogEntry& e, std::string* out);

}  // namespace attestd::ima
