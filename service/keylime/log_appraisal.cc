// Runtime (IMA) and measured-boot appraisal on top of a verified quote.
#include "service/keylime/log_appraisal.h"

#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/base64.h"
#include "verifiers/uefi/mb_policy.h"
#include "verifiers/uefi/mb_refstate.h"

namespace attestd {

namespace {

// IMA failures kept in an appraisal (the rest are counted in the claims):
// one bad list can have thousands.
constexpr size_t kMaxImaFailures = 50;

std::string Sha256Hex(std::string_view a, std::string_view b, std::string_view c) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const char nul = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 && EVP_DigestUpdate(ctx, &nul, 1) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 && EVP_DigestUpdate(ctx, &nul, 1) == 1 &&
            EVP_DigestUpdate(ctx, c.data(), c.size()) == 1 && EVP_DigestFinal_ex(ctx, md, &n) == 1;
  EVP_MD_CTX_free(ctx);
  return ok ? HexEncode(std::string_view(reinterpret_cast<char*>(md), n)) : std::string();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// One key of ima_sign_verification_keys: PEM, or base64 of DER.
Status AddKey(std::string_view k, std::vector<std::string>* keys) {
  k = Trim(k);
  if (k.empty()) return Status::Ok();
  if (k.rfind("-----BEGIN", 0) == 0) {
    keys->emplace_back(k);
    return Status::Ok();
  }
  auto der = Base64DecodeAny(k);
  if (!der || der->empty()) {
    return InvalidArgument("ima_sign_verification_keys: a key is neither PEM nor base64 DER");
  }
  keys->push_back(std::move(*der));
  return Status::Ok();
}

// Keylime's ima_sign_verification_keys, as its tenant sends it: an
// ImaKeyring's JSON {"keyids": [...], "pubkeys": ["<base64 DER>", ...]}
// (possibly encoded twice, as its database keeps it), or "null" / "[]" /
// empty for none; a plain list of keys (PEM or base64 DER) is accepted too.
// The key ids are derived from the keys, as evmctl does.
Result<std::vector<std::string>> ParseKeyList(std::string_view text) {
  std::vector<std::string> keys;
  text = Trim(text);
  if (text.empty()) return keys;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) {
    return InvalidArgument("ima_sign_verification_keys is not JSON");
  }
  std::string inner;
  simdjson::dom::parser inner_parser;
  if (doc.is_string()) {
    inner = std::string(doc.get_string().value_unsafe());
    if (Trim(inner).empty()) return keys;
    if (inner_parser.parse(inner).get(doc) != simdjson::SUCCESS) {
      return InvalidArgument("ima_sign_verification_keys is not JSON");
    }
  }
  if (doc.is_null()) return keys;
  simdjson::dom::array list;
  if (doc.is_object()) {
    if (doc.at_key("pubkeys").get_array().get(list) != simdjson::SUCCESS) {
      return InvalidArgument("ima_sign_verification_keys: pubkeys must be a list");
    }
  } else if (doc.get_array().get(list) != simdjson::SUCCESS) {
    return InvalidArgument("ima_sign_verification_keys must be an IMA keyring or a list of keys");
  }
  for (simdjson::dom::element e : list) {
    std::string_view k;
    if (e.get_string().get(k) != simdjson::SUCCESS) {
      return InvalidArgument("ima_sign_verification_keys: every key must be a string");
    }
    if (Status st = AddKey(k, &keys); !st.ok()) return st;
  }
  return keys;
}

// A JSON object with a "hashes" member: the legacy JSON allowlist.
bool IsLegacyJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::element hashes;
  return doc.is_object() && doc.at_key("hashes").get(hashes) == simdjson::SUCCESS;
}

Result<ima::PolicyPtr> CompileNow(const LogPolicies& p) {
  auto keys = ParseKeyList(p.ima_keys);
  if (!keys.ok()) return keys.status();
  std::string_view text = Trim(p.runtime_policy);
  if (!text.empty() && text.front() == '{' && !IsLegacyJson(text)) {
    return ima::CompileRuntimePolicy(text, *keys);
  }
  return ima::CompileAllowlist(text, p.exclude_list, *keys);
}

// The quote's PCR values from its claims: bank → PCR → raw value.
uefi::QuotedPcrs QuotedFromClaims(const Value& claims) {
  uefi::QuotedPcrs out;
  const Value* pcrs = claims.Find("pcrs");
  if (!pcrs || !pcrs->is_map()) return out;
  for (const auto& [bank, values] : pcrs->map()) {
    if (!values.is_map()) continue;
    for (const auto& [index, hex] : values.map()) {
      uint32_t pcr = 0;
      auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), pcr);
      auto raw = HexDecode(hex.as_string());
      if (ec != std::errc() || end != index.data() + index.size() || !raw) continue;
      out[bank][pcr] = std::move(*raw);
    }
  }
  return out;
}

// The bank for PCR 10: the quote's own hash algorithm when it quoted PCR
// 10 there (Keylime's rule), else the first bank that did.
const std::pair<const std::string, std::map<uint32_t, std::string>>* Pcr10Bank(
    const uefi::QuotedPcrs& quoted, std::string_view preferred) {
  auto it = quoted.find(std::string(preferred));
  if (it != quoted.end() && it->second.count(10)) return &*it;
  for (const auto& bank : quoted) {
    if (bank.second.count(10) && ima::HashAlgoByName(bank.first)) return &bank;
  }
  return nullptr;
}

// Raises `claim` to `tier` (AR4SI: 0 no claim; higher is worse).
void Worsen(int& claim, int tier) {
  if (tier != 0 && (claim == 0 || tier > claim)) claim = tier;
}

void AddTyped(Appraisal& a, std::string type, Value context) {
  a.failures.push_back(Failure{std::move(type), std::move(context)});
  a.is_valid = false;
}

Value ImaClaims(const ima::ImaAppraisal& r) {
  const ima::ImaSummary& s = r.summary;
  Value v = Value::MakeMap({{"entries_appraised", Value(s.entries_appraised)},
                            {"entries_passed", Value(s.entries_passed)},
                            {"files_measured", Value(s.files_measured)},
                            {"excluded", Value(s.excluded)},
                            {"signatures_verified", Value(s.signatures_verified)},
                            {"violations", Value(s.violations)},
                            {"keys_learned", Value(s.keys_learned)},
                            {"entries_skipped", Value(s.entries_skipped)},
                            {"reboot_detected", Value(s.reboot_detected)},
                            {"next_entry", Value(r.state.next_entry)}});
  v.Set("quoted_entries", s.quoted_entries ? Value(*s.quoted_entries) : Value());
  v.Set("failures", Value(static_cast<uint64_t>(r.failures.size() + r.failures_dropped)));
  return v;
}

Value BootClaims(const uefi::BootSummary& s) {
  auto list = [](const std::vector<std::string>& items) {
    Value l = Value::MakeList();
    for (const std::string& i : items) l.Push(Value(i));
    return l;
  };
  Value v = Value::MakeMap();
  v.Set("secure_boot", s.secure_boot ? Value(*s.secure_boot) : Value());
  v.Set("pk_owners", list(s.pk_owners));
  v.Set("kek_owners", list(s.kek_owners));
  v.Set("db_owners", list(s.db_owners));
  v.Set("dbx_entries", Value(static_cast<uint64_t>(s.dbx_entries)));
  Value apps = Value::MakeList();
  for (const uefi::BootApplication& b : s.boot_applications) {
    Value app = Value::MakeMap({{"pcr", Value(b.pcr)}, {"device_path", Value(b.device_path)}});
    for (const auto& [alg, digest] : b.digests) app.Set(alg, Value::Hex(digest));
    apps.Push(std::move(app));
  }
  v.Set("boot_applications", std::move(apps));
  v.Set("kernel_cmdline", s.kernel_cmdline ? Value(*s.kernel_cmdline) : Value());
  return v;
}

// Which AR4SI claim a measured-boot failure speaks against, and how badly.
void RateBootFailure(TrustVector& t, std::string_view id) {
  auto is = [&](std::initializer_list<std::string_view> ids) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  if (is({"measured_boot.parser", "measured_boot.digest_mismatch", "measured_boot.pcr_mismatch",
          "measured_boot.missing_pcrs", "measured_boot.missing_log"})) {
    // The log itself does not check out: nothing it says is believed.
    Worsen(t.hardware, 99);
    Worsen(t.configuration, 99);
    Worsen(t.executables, 99);
  } else if (is({"measured_boot.scrtm_and_bios"})) {
    Worsen(t.hardware, 96);
  } else if (is({"measured_boot.boot_applications", "measured_boot.initrd", "measured_boot.vmlinuz",
                 "measured_boot.kernel_cmdline", "measured_boot.kernels"})) {
    Worsen(t.executables, 33);
  } else {
    Worsen(t.configuration, 96);  // Secure Boot state, keys, ordering
  }
}

}  // namespace

std::string PolicyDigest(std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(body.data(), body.size(), md, &n, EVP_sha256(), nullptr) != 1) return "";
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), n));
}

bool LogPolicies::has_runtime_policy() const {
  return !runtime_policy_ref.empty() || !Trim(runtime_policy).empty();
}

LogAppraiser::LogAppraiser(std::shared_ptr<PolicyStore> bodies, size_t cache_capacity)
    : bodies_(std::move(bodies)), capacity_(std::max<size_t>(1, cache_capacity)) {}

size_t LogAppraiser::cached_policies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

Result<ima::PolicyPtr> LogAppraiser::Compiled(const LogPolicies& p) {
  // A reference is its own identity: a cache hit never reads the body.
  // The ways of saying "no keys" are one identity.
  std::string_view keys = Trim(p.ima_keys);
  if (keys == "[]" || keys == "null" || keys == "\"\"") keys = "";
  std::string digest = p.runtime_policy_ref.empty()
                           ? Sha256Hex(p.runtime_policy, p.exclude_list, keys)
                           : Sha256Hex("ref:" + p.runtime_policy_ref, p.exclude_list, keys);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_digest_.find(digest);
    if (it != by_digest_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  // Compiled outside the lock: a 20 MiB policy takes a while, and two
  // threads compiling the same one at once only waste work.
  LogPolicies resolved;
  const LogPolicies* source = &p;
  if (!p.runtime_policy_ref.empty() && p.runtime_policy.empty()) {
    if (!bodies_) return Internal("no store to read runtime policy bodies from");
    auto body = bodies_->GetBody(p.runtime_policy_ref);
    if (!body.ok()) return body.status();
    resolved = p;
    resolved.runtime_policy = Base64DecodeStd(*body).value_or("");
    resolved.runtime_policy_ref.clear();
    source = &resolved;
  }
  auto compiled = CompileNow(*source);
  if (!compiled.ok()) return compiled.status();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_digest_.find(digest);
  if (it != by_digest_.end()) return it->second->second;
  lru_.emplace_front(digest, *compiled);
  by_digest_[digest] = lru_.begin();
  while (lru_.size() > capacity_) {
    by_digest_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return *compiled;
}

Status LogAppraiser::ValidateRuntimePolicy(const LogPolicies& p, std::string_view field) {
  if (!p.has_runtime_policy()) return Status::Ok();
  auto compiled = Compiled(p);
  if (!compiled.ok()) {
    return InvalidArgument(std::string(field) + ": " + compiled.status().message());
  }
  return Status::Ok();
}

Status LogAppraiser::ValidateKeys(std::string_view ima_keys) {
  auto keys = ParseKeyList(ima_keys);
  if (!keys.ok()) return keys.status();
  for (const std::string& k : *keys) {
    auto loaded = ima::LoadPublicKey(k);
    if (!loaded.ok()) {
      return InvalidArgument("ima_sign_verification_keys: " + loaded.status().message());
    }
  }
  return Status::Ok();
}

Status LogAppraiser::ValidateMbPolicy(std::string_view json, std::string_view field) {
  if (Trim(json).empty()) return Status::Ok();
  auto ref = uefi::ParseRefState(json);
  if (!ref.ok()) return InvalidArgument(std::string(field) + ": " + ref.status().message());
  return Status::Ok();
}

Status LogAppraiser::Appraise(Appraisal& appraisal, const LogPolicies& policies,
                              const AgentLogs& logs, ima::ImaState* ima_state) {
  if (policies.has_runtime_policy()) {
    auto policy = Compiled(policies);
    if (!policy.ok()) return policy.status();
    AppraiseIma(appraisal, **policy, logs, ima_state);
  }
  return AppraiseBoot(appraisal, policies, logs);
}

void LogAppraiser::AppraiseIma(Appraisal& appraisal, const ima::CompiledPolicy& policy,
                               const AgentLogs& logs, ima::ImaState* state) const {
  if (!logs.ima_list) {
    AddFailure(appraisal, "ima.missing_list",
               "the agent has a runtime policy but sent no IMA measurement list");
    Worsen(appraisal.trust.executables, 99);
    return;
  }
  uefi::QuotedPcrs quoted = QuotedFromClaims(appraisal.claims);
  const auto* bank = Pcr10Bank(quoted, appraisal.claims.StringAt("hash_alg"));
  if (!bank) {
    AddFailure(appraisal, "ima.pcr_not_quoted",
               "the quote does not cover PCR 10, which the IMA list extends");
    Worsen(appraisal.trust.executables, 99);
    return;
  }
  ima::AppraiseInput in;
  in.log = *logs.ima_list;
  in.first_entry = logs.ima_first_entry;
  in.bank = bank->first;
  in.pcr10 = bank->second.at(10);
  if (const Value* clock = appraisal.claims.Find("clock_info")) {
    if (const Value* reset = clock->Find("reset_count")) in.boot_marker = reset->as_uint();
  }
  auto result = ima::AppraiseImaLog(policy, state, in);
  if (!result.ok()) {
    // A partial list the state cannot continue, a gap: the agent must send
    // the list from its start (Keylime asks for entry 0 after a failure).
    AddTyped(appraisal, "ima.log_offset",
             Value::MakeMap({{"reason", result.status().message()},
                             {"first_entry", Value(logs.ima_first_entry)}}));
    Worsen(appraisal.trust.executables, 99);
    if (state) *state = ima::ImaState{};
    return;
  }
  size_t kept = 0;
  for (const ima::ImaFailure& f : result->failures) {
    if (kept++ == kMaxImaFailures) break;
    Value ctx = Value::MakeMap({{"reason", Value(f.reason)}});
    if (!f.path.empty()) ctx.Set("path", f.path);
    if (f.line != 0) {
      ctx.Set("entry", Value(f.entry));
      ctx.Set("line", Value(f.line));
    }
    AddTyped(appraisal, f.event_id, std::move(ctx));
  }
  if (!result->ok() && result->failures.empty()) {
    AddFailure(appraisal, "ima.failures_dropped", "IMA failures beyond the recorded ones");
  }
  appraisal.claims.Set("ima", ImaClaims(*result));
  Worsen(appraisal.trust.executables, ima::Ar4siExecutables(*result));
  if (state) *state = std::move(result->state);
}

Status LogAppraiser::AppraiseBoot(Appraisal& appraisal, const LogPolicies& policies,
                                  const AgentLogs& logs) const {
  if (Trim(policies.mb_policy).empty()) return Status::Ok();
  if (!logs.boot_log) {
    AddFailure(appraisal, "measured_boot.missing_log",
               "the agent has a measured-boot policy but sent no boot event log");
    RateBootFailure(appraisal.trust, "measured_boot.missing_log");
    return Status::Ok();
  }
  auto result = uefi::AppraiseMeasuredBoot(*logs.boot_log, policies.mb_policy,
                                           QuotedFromClaims(appraisal.claims));
  if (!result.ok()) return result.status();
  for (const uefi::Failure& f : result->failures) {
    Value ctx = Value::MakeMap({{"reason", Value(f.detail)}});
    if (f.event_index >= 0) ctx.Set("event_index", Value(f.event_index));
    if (!f.bank.empty()) ctx.Set("bank", f.bank);
    if (f.pcr >= 0) ctx.Set("pcr", Value(f.pcr));
    AddTyped(appraisal, f.id, std::move(ctx));
    RateBootFailure(appraisal.trust, f.id);
  }
  appraisal.claims.Set("measured_boot", BootClaims(result->summary));
  if (result->ok()) {
    Worsen(appraisal.trust.hardware, 2);
    Worsen(appraisal.trust.configuration, 2);
    Worsen(appraisal.trust.executables, 2);
  }
  return Status::Ok();
}

}  // namespace attestd
