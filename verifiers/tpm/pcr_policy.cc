#include "verifiers/tpm/pcr_policy.h"

#include <simdjson.h>

#include "common/base64.h"

namespace attestd::tpm {

namespace {

constexpr size_t kMaxPolicyBytes = 1024 * 1024;

bool ParsePcrIndex(std::string_view key, int* out) {
  if (key.empty() || key.size() > 2) return false;
  int v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (key.size() == 2 && key[0] == '0') return false;
  if (v > 23) return false;
  *out = v;
  return true;
}

Result<std::string> DecodeDigest(std::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex.remove_prefix(2);
  if (hex.empty() || hex.size() > 128) return InvalidArgument("tpm_policy value is not a digest");
  auto bytes = HexDecode(hex);
  if (!bytes) return InvalidArgument("tpm_policy value is not hex");
  return std::move(*bytes);
}

}  // namespace

Result<PcrPolicy> ParseTpmPolicy(std::string_view json) {
  PcrPolicy policy;
  size_t b = json.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return policy;
  if (json.size() > kMaxPolicyBytes) return InvalidArgument("tpm_policy too large");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument("tpm_policy is not valid JSON");
  }
  if (doc.is_null()) return policy;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("tpm_policy is not a JSON object");
  }
  for (simdjson::dom::key_value_pair field : obj) {
    if (field.key == "mask") continue;
    int pcr = 0;
    if (!ParsePcrIndex(field.key, &pcr)) return InvalidArgument("tpm_policy key is not a PCR");
    if (policy.allowed.count(pcr)) return InvalidArgument("tpm_policy names a PCR twice");
    std::vector<std::string>& list = policy.allowed[pcr];
    std::string_view s;
    simdjson::dom::array arr;
    if (field.value.get_string().get(s) == simdjson::SUCCESS) {
      auto d = DecodeDigest(s);
      if (!d.ok()) return d.status();
      list.push_back(std::move(*d));
    } else if (field.value.get_array().get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : arr) {
        if (e.get_string().get(s) != simdjson::SUCCESS) {
          return InvalidArgument("tpm_policy value is not a string");
        }
        auto d = DecodeDigest(s);
        if (!d.ok()) return d.status();
        list.push_back(std::move(*d));
      }
      if (list.empty()) return InvalidArgument("tpm_policy allows no value for a PCR");
    } else {
      return InvalidArgument("tpm_policy value is neither a string nor a list");
    }
  }
  return policy;
}

PolicyVerdict EvaluatePolicy(const PcrPolicy& policy, const std::map<int, std::string>& values) {
  PolicyVerdict v;
  for (const auto& [pcr, allowed] : policy.allowed) {
    auto it = values.find(pcr);
    if (it == values.end()) {
      v.missing.push_back(pcr);
      continue;
    }
    bool found = false;
    for (const std::string& a : allowed) found = found || a == it->second;
    if (!found) v.invalid.push_back(pcr);
  }
  return v;
}

}  // namespace attestd::tpm
