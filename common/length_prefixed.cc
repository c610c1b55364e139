#include "common/length_prefixed.h"

#include <cstdint>

namespace attestd {

void PutLengthPrefixed(std::string& out, std::string_view field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(field);
}

bool TakeLengthPrefixed(std::string_view& in, std::string_view* field) {
  if (in.size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(4);
  if (n > in.size()) return false;
  *field = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace attestd
