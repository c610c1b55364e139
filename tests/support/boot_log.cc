#include "tests/support/boot_log.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "common/base64.h"
#include "verifiers/uefi/eventlog.h"
#include "verifiers/uefi/mb_refstate.h"

namespace attestd::testing {

std::string EventLogFile(const std::string& name) {
  std::ifstream in(std::string(ATTESTD_TEST_DATA_DIR) + "/eventlogs/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RefstateFor(const std::string& log_bytes, bool without_secureboot) {
  auto log = uefi::ParseEventLog(log_bytes);
  if (!log.ok()) return "";
  auto ref = uefi::RefStateFromLog(*log, without_secureboot);
  return ref.ok() ? *ref : "";
}

bool ExtendLogIntoTpm(Swtpm& tpm, const std::string& log_bytes, const std::string& bank) {
  auto log = uefi::ParseEventLog(log_bytes);
  if (!log.ok() || (log->has_startup_locality && log->startup_locality != 0)) return false;
  int at = -1;
  for (size_t i = 0; i < log->banks.size(); ++i) {
    if (uefi::AlgName(log->banks[i].alg) == bank) at = static_cast<int>(i);
  }
  if (at < 0) return false;
  // Several extends per tpm2_pcrextend call (it applies them in order).
  std::vector<std::string> argv = {"tpm2_pcrextend"};
  auto flush = [&] {
    bool ok = argv.size() == 1 || tpm.Run(argv) == 0;
    argv.resize(1);
    return ok;
  };
  for (const uefi::Event& e : log->events) {
    if (e.type == uefi::kEvNoAction) continue;
    std::string_view d = e.digests[at];
    if (d.empty()) return false;
    argv.push_back(std::to_string(e.pcr) + ":" + bank + "=" + HexEncode(d));
    if (argv.size() > 16 && !flush()) return false;
  }
  return flush();
}

}  // namespace attestd::testing
