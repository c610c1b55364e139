#include "common/base64.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace attestd {

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+')
      c = '-';
    else if (c == '/')
      c = '_';
  }
  return s;
}

namespace {

// Four tables for both alphabets, one per position in a 4-character group,
// each entry already shifted into place, so a group decodes with four loads
// and an OR (quotes and pcrblobs, kilobytes of base64, are decoded on every
// appraisal). Bit 31 marks an invalid character; bits 24-25 say which
// alphabet a character belongs only to, so a string mixing them is refused.
constexpr uint32_t kInvalid = 0x80000000u;
constexpr uint32_t kStdOnly = 0x01000000u;  // '+' '/'
constexpr uint32_t kUrlOnly = 0x02000000u;  // '-' '_'

constexpr std::array<uint32_t, 256> MakeDecodeTable(int shift) {
  std::array<uint32_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  auto set = [&](char c, uint32_t value, uint32_t flags) {
    t[static_cast<unsigned char>(c)] = (value << shift) | flags;
  };
  for (uint32_t i = 0; i < 26; ++i) {
    set(static_cast<char>('A' + i), i, 0);
    set(static_cast<char>('a' + i), 26 + i, 0);
  }
  for (uint32_t i = 0; i < 10; ++i) set(static_cast<char>('0' + i), 52 + i, 0);
  set('+', 62, kStdOnly);
  set('/', 63, kStdOnly);
  set('-', 62, kUrlOnly);
  set('_', 63, kUrlOnly);
  return t;
}
constexpr std::array<uint32_t, 256> kDecode0 = MakeDecodeTable(18);
constexpr std::array<uint32_t, 256> kDecode1 = MakeDecodeTable(12);
constexpr std::array<uint32_t, 256> kDecode2 = MakeDecodeTable(6);
constexpr std::array<uint32_t, 256> kDecode3 = MakeDecodeTable(0);

uint32_t At(const std::array<uint32_t, 256>& table, const char* p) {
  return table[static_cast<unsigned char>(*p)];
}

// Decodes unpadded base64 (length % 4 != 1) in either alphabet; `allowed`
// are the alphabet flags that may appear. Trailing bits are ignored, as
// OpenSSL's decoder does.
std::optional<std::string> DecodeUnpadded(std::string_view body, uint32_t allowed) {
  if (body.size() % 4 == 1) return std::nullopt;
  size_t rest = body.size() % 4;
  std::string out(body.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const char* in = body.data();
  const char* full_end = in + (body.size() - rest);
  char* o = out.data();
  uint32_t seen = 0;
  for (; in < full_end; in += 4, o += 3) {
    uint32_t v =
        At(kDecode0, in) | At(kDecode1, in + 1) | At(kDecode2, in + 2) | At(kDecode3, in + 3);
    seen |= v;
    o[0] = static_cast<char>(v >> 16);
    o[1] = static_cast<char>(v >> 8);
    o[2] = static_cast<char>(v);
  }
  if (rest >= 2) {
    uint32_t v = At(kDecode0, in) | At(kDecode1, in + 1) | (rest == 3 ? At(kDecode2, in + 2) : 0);
    seen |= v;
    o[0] = static_cast<char>(v >> 16);
    if (rest == 3) o[1] = static_cast<char>(v >> 8);
  }
  if (seen & kInvalid) return std::nullopt;
  uint32_t alphabets = seen & (kStdOnly | kUrlOnly);
  if ((alphabets & ~allowed) != 0 || alphabets == (kStdOnly | kUrlOnly)) return std::nullopt;
  return out;
}

size_t CountPadding(std::string_view text) {
  size_t pad = 0;
  while (pad < text.size() && pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  return pad;
}

}  // namespace

std::optional<std::string> Base64DecodeAny(std::string_view text) {
  size_t pad = CountPadding(text);
  std::string_view body = text.substr(0, text.size() - pad);
  // Padding, when present, must be exactly what completes the last quantum.
  if (pad != 0 && pad != (4 - body.size() % 4) % 4) return std::nullopt;
  return DecodeUnpadded(body, kStdOnly | kUrlOnly);
}

std::optional<std::string> Base64DecodeStd(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = CountPadding(text);
  return DecodeUnpadded(text.substr(0, text.size() - pad), kStdOnly);
}

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  char* p = out.data();
  for (unsigned char c : bytes) {
    *p++ = kDigits[c >> 4];
    *p++ = kDigits[c & 15];
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace attestd
