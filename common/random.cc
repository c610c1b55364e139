#include "common/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/base64.h"

namespace attestd {

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Internal("CSPRNG failure");
  }
  return out;
}

Result<std::string> RandomAlphanumeric(size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static constexpr unsigned kSize = 62;
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    auto bytes = RandomBytes(n);
    if (!bytes.ok()) return bytes.status();
    for (unsigned char c : *bytes) {
      // 248 = 4 * 62: values at or above it would bias the first characters.
      if (c < 4 * kSize && out.size() < n) out.push_back(kAlphabet[c % kSize]);
    }
  }
  return out;
}

Result<std::string> NewUuidV4() {
  auto bytes = RandomBytes(16);
  if (!bytes.ok()) return bytes.status();
  std::string& b = *bytes;
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

bool IsUuid(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace attestd
