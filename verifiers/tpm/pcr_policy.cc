#include "verifiers/tpm/pcr_policy.h"

#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <simdjson.h>

#include <cctype>

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

// "0x408000" (the prefix optional) → bits; false unless hex of 1..8 digits.
bool ParseMask(std::string_view s, uint32_t* out) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty() || s.size() > 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (d < 0) return false;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
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
    if (field.key == "mask") {
      std::string_view m;
      if (field.value.get_string().get(m) == simdjson::SUCCESS) (void)ParseMask(m, &policy.mask);
      continue;
    }
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

Result<std::shared_ptr<const PcrPolicy>> ParseTpmPolicyCached(std::string_view json) {
  // Bounded: emptied when full, so policies that stop being used go too.
  constexpr size_t kMaxCached = 256;
  static std::mutex mu;
  static auto* cache = new std::unordered_map<std::string, std::shared_ptr<const PcrPolicy>>();
  {
    std::lock_guard lock(mu);
    auto it = cache->find(std::string(json));
    if (it != cache->end()) return it->second;
  }
  auto parsed = ParseTpmPolicy(json);
  if (!parsed.ok()) return parsed.status();
  auto shared = std::make_shared<const PcrPolicy>(std::move(*parsed));
  std::lock_guard lock(mu);
  if (cache->size() >= kMaxCached) cache->clear();
  cache->emplace(std::string(json), shared);
  return shared;
}

namespace {

Status ValidateUncached(std::string_view json) {
  auto policy = ParseTpmPolicy(json);
  if (!policy.ok()) return policy.status();
  size_t bank_size = 0;
  for (const auto& [pcr, values] : policy->allowed) {
    for (const std::string& v : values) {
      if (v.size() != 20 && v.size() != 32 && v.size() != 48 && v.size() != 64) {
        return InvalidArgument("tpm_policy: PCR " + std::to_string(pcr) +
                               " has a value that is not a SHA-1/256/384/512 digest");
      }
      if (bank_size != 0 && v.size() != bank_size) {
        return InvalidArgument("tpm_policy: values of different digest lengths (one bank only)");
      }
      bank_size = v.size();
    }
  }
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("tpm_policy must be a JSON object");
  }
  simdjson::dom::element mask;
  if (obj.at_key("mask").get(mask) != simdjson::SUCCESS) return Status::Ok();
  std::string_view s;
  uint32_t bits = 0;
  if (mask.get_string().get(s) != simdjson::SUCCESS || !ParseMask(s, &bits)) {
    return InvalidArgument("tpm_policy: mask must be a hex number such as 0x408000");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateTpmPolicy(std::string_view json) {
  // Texts that passed are remembered (bounded, emptied when full): Keylime's
  // verify routes send the same few policies with every request, and this
  // parses them twice.
  constexpr size_t kMaxRemembered = 256;
  static std::mutex mu;
  static auto* valid = new std::unordered_set<std::string>();
  {
    std::lock_guard lock(mu);
    if (valid->count(std::string(json)) != 0) return Status::Ok();
  }
  Status st = ValidateUncached(json);
  if (st.ok()) {
    std::lock_guard lock(mu);
    if (valid->size() >= kMaxRemembered) valid->clear();
    valid->emplace(json);
  }
  return st;
}

std::vector<int> QuotedPcrs(const PcrPolicy& policy) {
  std::vector<int> pcrs;
  for (int i = 0; i < 24; ++i) {
    if (policy.allowed.count(i) || (policy.mask & (1u << i))) pcrs.push_back(i);
  }
  if (pcrs.empty()) pcrs.push_back(0);
  return pcrs;
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
