// Value: a small typed tree (null, bool, integers, string, list, map) for
// what verifiers establish (claims) and why evidence failed (failure
// contexts).
//
// Verifiers build Values; they never write JSON of the API. api/ renders a
// Value as JSON (common/value_json.h), stores keep it in their own encoding,
// so a claim travels from a verifier to a client without being re-parsed.
// A map keeps its keys in insertion order (documents stay stable to read);
// Set replaces a key that is already there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attestd {

class Value {
 public:
  enum class Type { kNull, kBool, kInt, kUint, kString, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;

  Value() = default;
  Value(bool b) : type_(Type::kBool), int_(b ? 1 : 0) {}  // NOLINT
  Value(int v) : type_(Type::kInt), int_(v) {}            // NOLINT
  Value(int64_t v) : type_(Type::kInt), int_(v) {}        // NOLINT
  // Integers are kept in one canonical form (kInt whenever the value fits in
  // int64), so a Value read back from JSON equals the one written.
  Value(uint64_t v)  // NOLINT
      : type_(v <= static_cast<uint64_t>(INT64_MAX) ? Type::kInt : Type::kUint),
        int_(static_cast<int64_t>(v)),
        uint_(v) {}
  Value(uint32_t v) : type_(Type::kInt), int_(v) {}                   // NOLINT
  Value(std::string s) : type_(Type::kString), str_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : type_(Type::kString), str_(s) {}        // NOLINT
  Value(const char* s) : type_(Type::kString), str_(s) {}             // NOLINT

  static Value MakeList() { return Value(Type::kList); }
  static Value MakeMap() { return Value(Type::kMap); }
  // A map built from key/value pairs, in this order.
  static Value MakeMap(std::initializer_list<std::pair<std::string, Value>> fields);
  // `bytes` as a lower-case hex string (digests, names).
  static Value Hex(std::string_view bytes);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_map() const { return type_ == Type::kMap; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return type_ == Type::kUint ? static_cast<int64_t>(uint_) : int_; }
  uint64_t as_uint() const { return type_ == Type::kUint ? uint_ : static_cast<uint64_t>(int_); }
  const std::string& as_string() const { return str_; }
  const List& list() const { return list_; }
  const Map& map() const { return map_; }

  // Map: sets `key` (turning a null into a map). Returns *this for chaining.
  Value& Set(std::string_view key, Value v);
  // List: appends (turning a null into a list).
  Value& Push(Value v);
  // Map: the member, or nullptr.
  const Value* Find(std::string_view key) const;
  // Map: the member as a string, or "" when absent or not a string.
  std::string_view StringAt(std::string_view key) const;

  bool operator==(const Value& other) const;

 private:
  explicit Value(Type t) : type_(t) {}

  Type type_ = Type::kNull;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  std::string str_;
  List list_;
  Map map_;
};

}  // namespace attestd
