#include "common/failure_list.h"

#include "common/value_json.h"

namespace attestd {

void WriteFailureList(JsonWriter& w, const std::vector<Failure>& failures) {
  w.BeginArray();
  for (const Failure& f : failures) {
    w.BeginObject().Key("type").String(f.type).Key("context");
    WriteValue(w, f.context);
    w.EndObject();
  }
  w.EndArray();
}

std::vector<Failure> FailureListFromValue(const Value& list) {
  std::vector<Failure> out;
  for (const Value& f : list.list()) {
    if (!f.is_map()) continue;
    const Value* context = f.Find("context");
    out.push_back(Failure{std::string(f.StringAt("type")), context ? *context : Value::MakeMap()});
  }
  return out;
}

}  // namespace attestd
