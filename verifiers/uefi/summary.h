// What a boot log says about the machine, decoded for people and claims:
// Secure Boot state, who owns the keys, which applications booted, and the
// kernel command line.
//
// Promises:
// - Summarize never fails: what cannot be decoded is left empty.
// - No function here throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "verifiers/uefi/eventlog.h"

namespace attestd::uefi {

struct BootApplication {
  uint32_t event_index = 0;
  uint32_t pcr = 0;
  std::string device_path;  // UEFI text form; empty for images loaded from memory
  uint64_t image_length = 0;
  // Algorithm name → digest (raw bytes), in bank order.
  std::vector<std::pair<std::string, std::string>> digests;
};

struct BootSummary {
  std::optional<bool> secure_boot;  // the SecureBoot variable, when logged
  // SignatureOwner GUIDs of each variable's entries, in log order, unique.
  std::vector<std::string> pk_owners, kek_owners, db_owners;
  size_t dbx_entries = 0;
  std::vector<BootApplication> boot_applications;  // EV_EFI_BOOT_SERVICES_APPLICATION
  // grub's "kernel_cmdline: …" (PCR 8) without the prefix, else
  // systemd-boot's UTF-16 command line (PCR 12); the last one logged.
  std::optional<std::string> kernel_cmdline;
};

BootSummary Summarize(const EventLog& log);

// Secure Boot state from a SecureBoot variable's data as tpm2_eventlog
// reads it: empty or one zero byte → off, another single byte → on;
// nullopt for longer data.
std::optional<bool> SecureBootEnabled(std::string_view variable_data);

}  // namespace attestd::uefi
