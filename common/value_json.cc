#include "common/value_json.h"

#include <simdjson.h>

namespace attestd {

void WriteValue(JsonWriter& w, const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      w.Null();
      return;
    case Value::Type::kBool:
      w.Bool(v.as_bool());
      return;
    case Value::Type::kInt:
      w.Int(v.as_int());
      return;
    case Value::Type::kUint:
      w.Uint(v.as_uint());
      return;
    case Value::Type::kString:
      w.String(v.as_string());
      return;
    case Value::Type::kList:
      w.BeginArray();
      for (const Value& e : v.list()) WriteValue(w, e);
      w.EndArray();
      return;
    case Value::Type::kMap:
      w.BeginObject();
      for (const auto& [k, e] : v.map()) {
        w.Key(k);
        WriteValue(w, e);
      }
      w.EndObject();
      return;
  }
}

std::string ValueToJson(const Value& v) {
  JsonWriter w;
  WriteValue(w, v);
  return w.Take();
}

namespace {

Value FromElement(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      Value m = Value::MakeMap();
      for (auto [k, child] : simdjson::dom::object(e)) m.Set(k, FromElement(child));
      return m;
    }
    case simdjson::dom::element_type::ARRAY: {
      Value l = Value::MakeList();
      for (simdjson::dom::element child : simdjson::dom::array(e)) l.Push(FromElement(child));
      return l;
    }
    case simdjson::dom::element_type::STRING:
      return Value(std::string_view(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::INT64:
      return Value(e.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64:
      return Value(e.get_uint64().value_unsafe());
    case simdjson::dom::element_type::DOUBLE:
      return Value(simdjson::minify(e));
    case simdjson::dom::element_type::BOOL:
      return Value(e.get_bool().value_unsafe());
    case simdjson::dom::element_type::NULL_VALUE:
      return Value();
  }
  return Value();
}

}  // namespace

Result<Value> ParseValueJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument("not a JSON document");
  }
  return FromElement(doc);
}

}  // namespace attestd
