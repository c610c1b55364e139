// JsonWriter: the one way attestd produces JSON text.
//
// Call sites never concatenate JSON by hand: they describe the document with
// Begin/End/Key/value calls and the writer handles commas and escaping. The
// writer does not validate nesting beyond what it needs for separators; a
// Key() outside an object is a programming error caught by tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attestd {

class JsonWriter {
 public:
  // `reserve`: expected output size, to spare reallocations.
  explicit JsonWriter(size_t reserve = 0) { out_.reserve(reserve); }

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  // `bytes` as a lowercase hex string, written straight into the output (hex
  // never needs escaping), for digests and names on the appraisal hot path.
  JsonWriter& HexString(std::string_view bytes);
  // An array of strings, as one value.
  JsonWriter& StringArray(const std::vector<std::string>& values);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialized JSON (e.g. a stored result) as one value.
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open container: true until its first element is written.
  std::vector<bool> first_;
  bool after_key_ = false;
};

// Appends `s` to `out` as a quoted JSON string.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace attestd
