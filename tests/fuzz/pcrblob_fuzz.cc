// libFuzzer target: the tpm2-tools pcrblob parser. Any input must parse or
// be refused; a parsed blob must re-serialize to the very same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "verifiers/tpm/pcrblob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto blob = attestd::tpm::ParsePcrBlob(in);
  if (!blob.ok()) return 0;
  size_t selected = 0;
  for (const auto& s : blob->selection) {
    for (int p = 0; p < 24; ++p) selected += s.Selected(p);
  }
  if (selected != blob->values.size()) __builtin_trap();
  // Round trip holds when the input's unused bytes are zero, as tpm2-tools
  // writes them; otherwise re-parsing the canonical form must agree.
  std::string canon = attestd::tpm::SerializePcrBlob(*blob);
  auto again = attestd::tpm::ParsePcrBlob(canon);
  if (!again.ok() || again->selection != blob->selection ||
      again->values.size() != blob->values.size()) {
    __builtin_trap();
  }
  for (size_t i = 0; i < blob->values.size(); ++i) {
    if (again->values[i].digest != blob->values[i].digest) __builtin_trap();
  }
  return 0;
}
