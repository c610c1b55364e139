#include "common/value.h"

#include "common/base64.h"

namespace attestd {

Value Value::MakeMap(std::initializer_list<std::pair<std::string, Value>> fields) {
  Value v(Type::kMap);
  v.map_.reserve(fields.size());
  for (const auto& [k, f] : fields) v.map_.emplace_back(k, f);
  return v;
}

Value Value::Hex(std::string_view bytes) { return Value(HexEncode(bytes)); }

Value& Value::Set(std::string_view key, Value v) {
  if (type_ == Type::kNull) type_ = Type::kMap;
  for (auto& [k, existing] : map_) {
    if (k == key) {
      existing = std::move(v);
      return *this;
    }
  }
  map_.emplace_back(std::string(key), std::move(v));
  return *this;
}

Value& Value::Push(Value v) {
  if (type_ == Type::kNull) type_ = Type::kList;
  list_.push_back(std::move(v));
  return *this;
}

const Value* Value::Find(std::string_view key) const {
  for (const auto& [k, v] : map_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view Value::StringAt(std::string_view key) const {
  const Value* v = Find(key);
  return v && v->type_ == Type::kString ? std::string_view(v->str_) : std::string_view();
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kNull:
      return true;
    case Type::kBool:
    case Type::kInt:
      return int_ == o.int_;
    case Type::kUint:
      return uint_ == o.uint_;
    case Type::kString:
      return str_ == o.str_;
    case Type::kList:
      return list_ == o.list_;
    case Type::kMap:
      return map_ == o.map_;
  }
  return false;
}

}  // namespace attestd
