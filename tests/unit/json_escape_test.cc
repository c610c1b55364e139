// AppendJsonString skips plain text eight bytes at a time: every byte that
// needs escaping must still be found wherever it falls in a word.
#include <gtest/gtest.h>

#include <string>

#include "common/json_writer.h"

namespace attestd {
namespace {

// The escaping rules, one byte at a time.
std::string Reference(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

TEST(JsonEscape, EveryByteAtEveryOffsetOfAWord) {
  for (int byte = 0; byte < 256; ++byte) {
    for (size_t len = 1; len <= 24; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(byte);
        std::string out;
        AppendJsonString(out, s);
        ASSERT_EQ(out, Reference(s)) << "byte " << byte << " at " << at << " of " << len;
      }
    }
  }
}

TEST(JsonEscape, NeighboursOfTheSpecialBytes) {
  // Bytes next to the ones the word test looks for ('"' 0x22, '\\' 0x5c,
  // 0x1f/0x20) and runs of them across word boundaries.
  std::string s;
  for (int i = 0; i < 64; ++i) s += "\x1f\x20\x21\x22\x23\x5b\x5c\x5d\x7f\x80\xff"[i % 11];
  std::string out;
  AppendJsonString(out, s);
  EXPECT_EQ(out, Reference(s));
}

}  // namespace
}  // namespace attestd
