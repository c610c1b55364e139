// libFuzzer target: the IMA measurement list through the whole appraisal.
// Any input must be appraised without a crash, and:
//   - a list that replays (every line parses) and is quoted at its replayed
//     value has no parser or PCR failure;
//   - a clean appraisal's state resumes: the same list again skips exactly
//     the covered entries and passes;
//   - every state survives its JSON round trip.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "verifiers/ima/ima_appraisal.h"

namespace {

const attestd::ima::CompiledPolicy& Policy() {
  static const attestd::ima::PolicyPtr p = *attestd::ima::CompileRuntimePolicy(
      R"({"digests": {"boot_aggregate": ["0000000000000000000000000000000000000000"],
          "/bin/ls": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
          "excludes": ["/tmp/.*", "/proc/[0-9]+/"],
          "keyrings": {".ima": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}})");
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace attestd::ima;
  std::string_view log(reinterpret_cast<const char*>(data), size);
  attestd::Result<std::string> pcr = ReplayPcr10(log, "sha256");
  AppraiseInput in;
  in.log = log;
  std::string quoted = pcr.ok() ? *pcr : std::string(32, '\x01');
  in.pcr10 = quoted;
  attestd::Result<ImaAppraisal> a = AppraiseImaLog(Policy(), nullptr, in);
  if (!a.ok()) __builtin_trap();  // a full list with a valid bank is never a caller error
  if (a->ok() != (a->failures.empty() && a->failures_dropped == 0)) __builtin_trap();
  for (const ImaFailure& f : a->failures) {
    if (pcr.ok() && (f.event_id == "ima.parser.entry" || f.event_id == "ima.pcr_mismatch")) {
      __builtin_trap();
    }
  }
  attestd::Result<ImaState> state = ParseImaState(SerializeImaState(a->state));
  if (!state.ok() || !(*state == a->state)) __builtin_trap();
  if (a->ok()) {
    attestd::Result<ImaAppraisal> again = AppraiseImaLog(Policy(), &a->state, in);
    if (!again.ok() || !again->ok() || again->summary.reboot_detected ||
        again->summary.entries_skipped != a->state.next_entry) {
      __builtin_trap();
    }
  }
  return 0;
}
