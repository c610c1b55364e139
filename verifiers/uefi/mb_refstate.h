// Keylime's measured-boot reference state ("refstate", "mb_policy"): the
// JSON that `keylime-policy create measured-boot` and `create_mb_refstate`
// write, as Keylime's `example` policy reads it.
//
//   {"has_secureboot": true,
//    "scrtm_and_bios": [{"scrtm": {"sha256": "0x…"},
//                        "platform_firmware": [{"sha256": "0x…"}, …]}],
//    "pk": [{"SignatureOwner": "<guid>", "SignatureData": "0x…"}], "kek": […],
//    "db": […], "dbx": […], "vendor_db": […] (optional),
//    "mokdig": [{"sha256": "0x…"}], "mokxdig": […],
//    "kernels": [{"shim_authcode_sha256": "0x…", "grub_authcode_sha256": "0x…",
//                 "kernel_authcode_sha256": "0x…"  (Secure Boot on)
//                 | "vmlinuz_plain_sha256": "0x…"  (Secure Boot off),
//                 "initrd_plain_sha256": "0x…", "kernel_cmdline": "<regex>"}]}
//
// Promises:
// - ParseRefState checks what Keylime's example policy checks before it
//   evaluates anything (required fields, "0x" + lower-case hex digests,
//   the kernel fields that go with has_secureboot) and compiles the
//   kernel_cmdline regexes. A refstate that cannot be evaluated is
//   kInvalidArgument whose message names the field, e.g.
//   "refstate.kernels[0].initrd_plain_sha256: missing". Unknown fields are
//   ignored, as Keylime does.
// - RefStateFromLog writes what create_mb_policy.py writes for the same log.
// - No function here throws (regex errors are caught and reported).
#pragma once

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "verifiers/uefi/eventlog.h"

namespace attestd::uefi {

// Algorithm name ("sha256") → digest as lower-case hex without "0x".
using DigestMap = std::map<std::string, std::string>;

struct RefSignature {
  std::string owner;     // GUID text, compared as written
  std::string data_hex;  // without "0x", compared as written
};

struct ScrtmAndBios {
  DigestMap scrtm;
  std::vector<DigestMap> platform_firmware;
};

struct AllowedKernel {
  std::string shim_authcode_sha256;  // hex without "0x"
  std::string grub_authcode_sha256;
  std::string kernel_authcode_sha256;  // Secure Boot on
  std::string vmlinuz_plain_sha256;    // Secure Boot off
  std::string initrd_plain_sha256;
  std::string kernel_cmdline;                    // the regex as written
  std::shared_ptr<const std::regex> cmdline_re;  // "kernel_cmdline: " + regex, compiled
};

struct RefState {
  bool has_secureboot = true;
  std::vector<ScrtmAndBios> scrtm_and_bios;
  std::vector<RefSignature> pk, kek, db, dbx, vendor_db;
  std::vector<DigestMap> mokdig, mokxdig;
  std::vector<AllowedKernel> kernels;
};

Result<RefState> ParseRefState(std::string_view json);

// The refstate for the boot `log` records, as create_mb_policy.py makes it.
// Fails (kInvalidArgument) where create_mb_policy refuses: Secure Boot off
// without `without_secureboot`, or not 3–4 (Secure Boot) / 2 (without)
// boot applications from disk. Fields the log cannot give (no S-CRTM
// event, no initrd) are left out, as Keylime does, so ParseRefState then
// names them.
Result<std::string> RefStateFromLog(const EventLog& log, bool without_secureboot);

// Python's re.escape (3.7+): a backslash before ()[]{}?*+-|^$\.&~# and
// whitespace.
std::string RegexEscape(std::string_view s);

}  // namespace attestd::uefi
