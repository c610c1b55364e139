// UEFI boot event logs for tests: the real logs of tests/data/eventlogs,
// the refstate Keylime's create_mb_policy would write for them, and a
// software TPM brought to the PCR values a log replays to, so a real quote
// covers the log.
#pragma once

#include <string>

#include "tests/support/swtpm.h"

namespace attestd::testing {

// tests/data/eventlogs/<name>, bytes; empty if unreadable.
std::string EventLogFile(const std::string& name);

// uefi::RefStateFromLog of the log; empty when it refuses.
std::string RefstateFor(const std::string& log_bytes, bool without_secureboot);

// Extends `tpm`'s PCRs of `bank` with every event's digest of that bank,
// in log order (EV_NO_ACTION skipped, as firmware does). The TPM's PCRs
// must start at zero and the log must not need locality 3. False on any
// error.
bool ExtendLogIntoTpm(Swtpm& tpm, const std::string& log_bytes, const std::string& bank);

}  // namespace attestd::testing
