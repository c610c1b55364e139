#include "common/base64.h"

#include <openssl/evp.h>

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
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

namespace {

bool IsStdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Decodes a padded standard-alphabet string whose characters were already
// checked; EVP_DecodeBlock counts padding as zero bytes, so those are trimmed.
std::optional<std::string> DecodeChecked(const std::string& padded, size_t pad) {
  std::string out(padded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(padded.data()),
                          static_cast<int>(padded.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace

std::optional<std::string> Base64DecodeAny(std::string_view text) {
  size_t pad = 0;
  while (pad < text.size() && pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  std::string_view body = text.substr(0, text.size() - pad);
  bool url = false, std_alpha = false;
  std::string norm;
  norm.reserve(body.size() + 3);
  for (char c : body) {
    if (c == '-' || c == '_') {
      url = true;
      norm.push_back(c == '-' ? '+' : '/');
    } else if (IsStdChar(c)) {
      if (c == '+' || c == '/') std_alpha = true;
      norm.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  if (url && std_alpha) return std::nullopt;
  if (body.size() % 4 == 1) return std::nullopt;
  // Padding, when present, must be exactly what completes the last quantum.
  size_t needed = (4 - body.size() % 4) % 4;
  if (pad != 0 && pad != needed) return std::nullopt;
  norm.append(needed, '=');
  if (norm.empty()) return std::string();
  return DecodeChecked(norm, needed);
}

std::optional<std::string> Base64DecodeStd(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < text.size() && pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i < text.size() - pad; ++i) {
    if (!IsStdChar(text[i])) return std::nullopt;
  }
  if (text.empty()) return std::string();
  return DecodeChecked(std::string(text), pad);
}

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
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
