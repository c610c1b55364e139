#include <gtest/gtest.h>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/random.h"
#include "common/time_util.h"

namespace attestd {
namespace {

TEST(Base64, DecodesStandardAndUrlSafePaddedOrNot) {
  EXPECT_EQ(*Base64DecodeAny("+/8="), "\xfb\xff");
  EXPECT_EQ(*Base64DecodeAny("+/8"), "\xfb\xff");
  EXPECT_EQ(*Base64DecodeAny("-_8="), "\xfb\xff");
  EXPECT_EQ(*Base64DecodeAny("-_8"), "\xfb\xff");
  EXPECT_EQ(*Base64DecodeAny("YWJj"), "abc");
}

TEST(Base64, RejectsMixedAlphabetsBadPaddingAndJunk) {
  EXPECT_FALSE(Base64DecodeAny("+_8=").has_value());
  EXPECT_FALSE(Base64DecodeAny("YWJj=").has_value());
  EXPECT_FALSE(Base64DecodeAny("YW=j").has_value());
  EXPECT_FALSE(Base64DecodeAny("Y").has_value());
  EXPECT_FALSE(Base64DecodeAny("YW J").has_value());
  EXPECT_FALSE(Base64DecodeAny("YW\nJj").has_value());
  EXPECT_FALSE(Base64DecodeStd("YWJ").has_value());
}

TEST(Base64, EncodesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(*Base64DecodeAny(Base64Encode(all)), all);
  EXPECT_EQ(*Base64DecodeAny(Base64UrlEncode(all)), all);
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

// Every length 0..70 (all tails), both alphabets, padded or not, each
// compared with OpenSSL's own encoder; then every non-alphabet byte at every
// position of a group must be refused, by the standard-only decoder too.
TEST(Base64, AgreesWithOpenSslAtEveryLengthAndRefusesEveryJunkByte) {
  std::string bytes;
  for (int n = 0; n <= 70; ++n) {
    std::string padded = Base64Encode(bytes);
    std::string url = Base64UrlEncode(bytes);
    ASSERT_EQ(Base64DecodeStd(padded), bytes) << n;
    ASSERT_EQ(Base64DecodeAny(padded), bytes) << n;
    ASSERT_EQ(Base64DecodeAny(url), bytes) << n;
    bytes.push_back(static_cast<char>(n * 37 + 11));
  }
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
  for (int c = 0; c < 256; ++c) {
    if (alphabet.find(static_cast<char>(c)) != std::string::npos) continue;
    for (size_t at = 0; at < 8; ++at) {
      std::string text = "QUJDREVG";
      text[at] = static_cast<char>(c);
      if (c == '=' && at >= 6) continue;  // valid padding there
      EXPECT_FALSE(Base64DecodeAny(text).has_value()) << c << " at " << at;
      EXPECT_FALSE(Base64DecodeStd(text).has_value()) << c << " at " << at;
    }
  }
  EXPECT_FALSE(Base64DecodeStd("-_8=").has_value());
  EXPECT_FALSE(Base64DecodeStd("QUJD_A==").has_value());
}

TEST(JsonWriter, HexStringIsTheLowercaseHexOfTheBytes) {
  JsonWriter w;
  w.BeginArray().HexString(std::string("\x00\xab\xff", 3)).HexString("").EndArray();
  EXPECT_EQ(w.str(), R"(["00abff",""])");
}

TEST(JsonWriter, StringArrayIsOneValueWithEscapedStrings) {
  JsonWriter w;
  w.BeginObject().Key("a").StringArray({"x", "q\""}).Key("b").StringArray({}).EndObject();
  EXPECT_EQ(w.str(), R"({"a":["x","q\""],"b":[]})");
}

TEST(Hex, RoundTripAndRejects) {
  EXPECT_EQ(HexEncode(std::string("\x00\xab", 2)), "00ab");
  EXPECT_EQ(*HexDecode("00AB"), std::string("\x00\xab", 2));
  EXPECT_FALSE(HexDecode("0").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(Random, UuidIsV4AndCanonical) {
  auto id = NewUuidV4();
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(IsUuid(*id));
  EXPECT_EQ((*id)[14], '4');
  EXPECT_NE(*id, *NewUuidV4());
  EXPECT_FALSE(IsUuid("not-a-uuid"));
  EXPECT_FALSE(IsUuid("0000000000000000000000000000000000-0"));
}

TEST(Random, AlphanumericUsesOnlyTheAlphabet) {
  auto s = RandomAlphanumeric(1000);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 1000u);
  for (char c : *s) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

TEST(ConstantTime, Equality) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(Time, Rfc3339WithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Millis(1918020050520), "2030-10-12T07:20:50.520Z");
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
}

TEST(JsonWriter, EscapesAndSeparates) {
  JsonWriter w;
  w.BeginObject()
      .Key("a")
      .String("x\"\n\x01")
      .Key("b")
      .BeginArray()
      .Int(-1)
      .Bool(true)
      .Null()
      .EndArray()
      .Key("c")
      .Raw("{}")
      .EndObject();
  EXPECT_EQ(w.str(), R"({"a":"x\"\n\u0001","b":[-1,true,null],"c":{}})");
}

}  // namespace
}  // namespace attestd
