// libFuzzer target: the UEFI event log parser, its decoders, the replay and
// Keylime's example policy. Any input must parse or be refused with the
// offset and index of the failing event; a parsed log's views must lie in
// the input, and replaying, summarizing and evaluating it must not fail.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "verifiers/uefi/eventlog.h"
#include "verifiers/uefi/eventlog_decode.h"
#include "verifiers/uefi/mb_policy.h"
#include "verifiers/uefi/mb_refstate.h"
#include "verifiers/uefi/replay.h"
#include "verifiers/uefi/summary.h"

namespace {

using namespace attestd::uefi;

// The refstate of a real Secure Boot log, evaluated against every input.
const RefState& Reference() {
  static const RefState* ref = [] {
    std::ifstream in(
        std::string(ATTESTD_SOURCE_DIR) + "/tests/data/eventlogs/event-moklisttrusted.bin",
        std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string bytes = ss.str();
    auto log = ParseEventLog(bytes);
    if (!log.ok()) std::abort();
    auto json = RefStateFromLog(*log, false);
    if (!json.ok()) std::abort();
    auto parsed = ParseRefState(*json);
    if (!parsed.ok()) std::abort();
    return new RefState(*parsed);
  }();
  return *ref;
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void CheckRefusal(const attestd::Status& s, size_t size) {
  const std::string& m = s.message();
  size_t at = m.find(" at offset 0x");
  if (m.rfind("event ", 0) != 0 || at == std::string::npos) __builtin_trap();
  if (std::strtoull(m.c_str() + at + 13, nullptr, 16) > size) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The decoders on their own, straight from the input.
  (void)DecodeSignatureLists(in);
  (void)DevicePathToText(in);
  (void)DecodeGpt(in);
  (void)DecodeVariable(in);

  auto log = ParseEventLog(in);
  if (!log.ok()) {
    CheckRefusal(log.status(), size);
    return 0;
  }
  size_t last = 0;
  for (const Event& e : log->events) {
    if (e.offset < last || e.offset >= size || !Inside(e.data, in)) __builtin_trap();
    for (std::string_view d : e.digests) {
      if (!Inside(d, in)) __builtin_trap();
    }
    last = e.offset;
  }
  auto replay = ReplayLog(*log);
  if (!replay.ok()) __builtin_trap();
  (void)Summarize(*log);
  (void)EvaluateExample(*log, Reference());
  QuotedPcrs none;
  (void)ComparePcrs(*replay, none);
  auto generated = RefStateFromLog(*log, true);
  if (generated.ok()) (void)ParseRefState(*generated);
  return 0;
}
