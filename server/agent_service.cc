#include "server/agent_service.h"

#include <simdjson.h>

#include <algorithm>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/time_util.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcr_policy.h"
#include "verifiers/tpm/quote_verifier.h"

namespace attestd {

namespace {

constexpr char kRuntimeUnavailable[] = "runtime_policy.appraiser_unavailable";
constexpr char kMeasuredBootUnavailable[] = "measured_boot.appraiser_unavailable";
// The agent id of the private directory verify checks appraise with.
constexpr char kVerifyId[] = "verify";

// Keylime's algorithm names (keylime/common/algorithms.py).
const std::vector<std::string>& KnownAlgs(std::string_view kind) {
  static const std::vector<std::string> kHash = {"sha1", "sha256", "sha384", "sha512", "sm3_256"};
  static const std::vector<std::string> kEnc = {"rsa", "ecc"};
  static const std::vector<std::string> kSign = {"rsassa", "rsapss", "ecdsa", "ecdaa", "ecschnorr", "sm2"};
  return kind == "hash" ? kHash : kind == "encryption" ? kEnc : kSign;
}

Status ValidateAlgs(std::string_view kind, const std::vector<std::string>& algs) {
  std::string field = "accept_tpm_" + std::string(kind) + "_algs";
  if (algs.empty()) return InvalidArgument(field + " must name at least one algorithm");
  const auto& known = KnownAlgs(kind);
  for (const std::string& a : algs) {
    if (std::find(known.begin(), known.end(), a) == known.end()) {
      return InvalidArgument(field + ": unknown algorithm '" + a + "'");
    }
  }
  return Status::Ok();
}

Status ValidateAk(std::string_view ak_tpm, const std::string& field) {
  if (ak_tpm.empty()) return InvalidArgument(field + " is required");
  auto key = tpm::ParseAk(ak_tpm);
  if (!key.ok()) return InvalidArgument(field + ": " + key.status().message());
  if (!(*key)->HasAkAttributes()) return InvalidArgument(field + " is not a restricted signing key");
  return Status::Ok();
}

// A JSON document (any value); `field` names it in the message.
Status ValidateJson(std::string_view text, const std::string& field) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(text.data(), text.size()).get(e) != simdjson::SUCCESS) {
    return InvalidArgument(field + " is not valid JSON");
  }
  return Status::Ok();
}

// `mask`: a hex string ("0x408000").
Status ValidateMask(const simdjson::dom::object& obj) {
  simdjson::dom::element mask;
  if (obj.at_key("mask").get(mask) != simdjson::SUCCESS) return Status::Ok();
  std::string_view s;
  if (mask.get_string().get(s) != simdjson::SUCCESS) return InvalidArgument("tpm_policy: mask must be a string");
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  bool hex = !s.empty() && s.size() <= 8 &&
             std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  return hex ? Status::Ok() : InvalidArgument("tpm_policy: mask must be a hex number such as 0x408000");
}

Appraisal WithFailure(Appraisal a, const char* type, std::string_view reason) {
  JsonWriter w;
  w.BeginObject().Key("reason").String(reason).EndObject();
  a.failures.push_back(Failure{type, w.Take()});
  a.is_valid = false;
  return a;
}

bool HasFailure(const Appraisal& a, std::string_view type) {
  return std::any_of(a.failures.begin(), a.failures.end(), [&](const Failure& f) { return f.type == type; });
}

// Appraises a Keylime quote string against `ak_tpm` and `tpm_policy` alone
// (no directory, no clock history); a nonce that does not match as text is
// tried base64-decoded.
Result<Appraisal> AppraiseQuote(std::string_view quote, std::string_view nonce, std::string_view hash_alg,
                                std::string_view ak_tpm, std::string_view tpm_policy) {
  auto evidence = tpm::QuoteEvidenceFromKeylime(kVerifyId, quote, hash_alg);
  if (!evidence.ok()) return tpm::UnparsableEvidence(evidence.status().message());
  Attester attester{std::string(ak_tpm), std::string(tpm_policy), true, std::nullopt};
  auto attempt = [&](std::string_view n) { return tpm::AppraiseAgainst(*evidence, n, attester); };
  auto first = attempt(nonce);
  if (!first.ok() || !HasFailure(*first, "quote_validation.nonce")) return first;
  auto decoded = Base64DecodeStd(nonce);
  if (!decoded || decoded->empty()) return first;
  auto second = attempt(*decoded);
  if (second.ok() && !HasFailure(*second, "quote_validation.nonce")) return second;
  return first;
}

}  // namespace

AgentService::AgentService(std::shared_ptr<AgentStore> agents, std::shared_ptr<PolicyStore> policies,
                           std::shared_ptr<AttesterDirectory> directory,
                           std::shared_ptr<RegistrarStore> registrar,
                           std::shared_ptr<SessionService> sessions, AgentServiceOptions options)
    : agents_(std::move(agents)),
      policies_(std::move(policies)),
      directory_(std::move(directory)),
      registrar_(std::move(registrar)),
      sessions_(std::move(sessions)),
      options_(std::move(options)) {
  // The session engine outlives no AgentService it calls: the Application
  // owns both and stops the workers before either is destroyed.
  if (sessions_) sessions_->set_on_finished([this](const Session& s) { OnSessionFinished(s); });
}

bool AgentService::ValidName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

Status AgentService::ValidateTpmPolicy(std::string_view json) {
  auto policy = tpm::ParseTpmPolicy(json);
  if (!policy.ok()) return InvalidArgument(policy.status().message());
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
  return ValidateMask(obj);
}

Status AgentService::Validate(const VerifierAgent& a) const {
  if (!ValidName(a.agent_id)) return InvalidArgument("agent id must be 1 to 255 of [A-Za-z0-9._-]");
  if (a.tpm_policy.empty()) return InvalidArgument("tpm_policy is required");
  if (Status st = ValidateTpmPolicy(a.tpm_policy); !st.ok()) return st;
  if (Status st = ValidateAk(a.ak_tpm, "ak_tpm"); !st.ok()) return st;
  if (Status st = ValidateAlgs("hash", a.accept_tpm_hash_algs); !st.ok()) return st;
  if (Status st = ValidateAlgs("encryption", a.accept_tpm_encryption_algs); !st.ok()) return st;
  if (Status st = ValidateAlgs("signing", a.accept_tpm_signing_algs); !st.ok()) return st;
  if (Status st = ValidateJson(a.metadata, "metadata"); !st.ok()) return st;
  if (!a.mb_policy.empty()) {
    if (Status st = ValidateJson(a.mb_policy, "mb_policy"); !st.ok()) return st;
  }
  if (!a.runtime_policy.empty() && !Base64DecodeStd(a.runtime_policy)) {
    return InvalidArgument("runtime_policy is not base64");
  }
  for (const std::string* name : {&a.runtime_policy_name, &a.mb_policy_name}) {
    if (!name->empty() && !ValidName(*name)) return InvalidArgument("a policy name must be 1 to 255 of [A-Za-z0-9._-]");
  }
  return Status::Ok();
}

Result<std::vector<std::pair<PolicyKind, std::string>>> AgentService::BindPolicies(VerifierAgent& a) {
  std::vector<std::pair<PolicyKind, std::string>> created;
  struct Ref {
    PolicyKind kind;
    std::string* name;
    std::string* body;
  };
  for (Ref ref : {Ref{PolicyKind::kRuntime, &a.runtime_policy_name, &a.runtime_policy},
                  Ref{PolicyKind::kMeasuredBoot, &a.mb_policy_name, &a.mb_policy}}) {
    if (ref.name->empty()) continue;
    if (ref.body->empty()) {
      auto named = policies_->Get(ref.kind, *ref.name);
      if (!named.ok()) return named.status();
      *ref.body = named->body;
      continue;
    }
    NamedPolicy p{*ref.name, ref.kind == PolicyKind::kRuntime ? a.tpm_policy : "", *ref.body};
    if (Status st = policies_->Create(ref.kind, p); !st.ok()) {
      for (const auto& [kind, name] : created) (void)policies_->Delete(kind, name);
      return st;
    }
    created.emplace_back(ref.kind, *ref.name);
  }
  return created;
}

Result<VerifierAgent> AgentService::Enrol(VerifierAgent agent) {
  if (Status st = Validate(agent); !st.ok()) return st;
  agent.push_model = agent.ip.empty();
  agent.operational_state = agent.push_model ? AgentState::kGetQuote : AgentState::kStart;
  agent.attestation_status = "PENDING";
  agent.attestation_count = 0;
  agent.created_at_ms = NowMillis();
  auto created = BindPolicies(agent);
  if (!created.ok()) return created.status();
  auto undo_policies = [&] {
    for (const auto& [kind, name] : *created) (void)policies_->Delete(kind, name);
  };
  if (Status st = agents_->Create(agent); !st.ok()) {
    undo_policies();
    return st;
  }
  // After the record, so a second enrolment of a known agent (kConflict)
  // never replaces the first one's AK or policy.
  Attester attester{agent.ak_tpm, agent.tpm_policy, true, std::nullopt};
  if (Status st = directory_->Put(agent.agent_id, attester); !st.ok()) {
    (void)agents_->Delete(agent.agent_id);
    undo_policies();
    return st;
  }
  LogInfo("verifier: agent enrolled", {{"agent_id", agent.agent_id}, {"push", agent.push_model ? "yes" : "no"}});
  return agent;
}

Result<VerifierAgent> AgentService::Get(std::string_view agent_id) {
  if (!ValidName(agent_id)) return NotFound("unknown agent");
  return agents_->Get(agent_id);
}

Result<VerifierAgent> AgentService::Current(std::string_view agent_id) {
  Reconcile(agent_id);
  return Get(agent_id);
}

Result<std::vector<std::string>> AgentService::List() { return agents_->List(); }

Status AgentService::Delete(std::string_view agent_id) {
  if (!ValidName(agent_id)) return NotFound("unknown agent");
  if (Status st = agents_->Delete(agent_id); !st.ok()) return st;
  LogInfo("verifier: agent deleted", {{"agent_id", std::string(agent_id)}});
  return WithdrawTrust(agent_id);
}

Status AgentService::WithdrawTrust(std::string_view agent_id) {
  if (registrar_) {
    auto registered = registrar_->Get(agent_id);
    if (registered.ok() && registered->active) {
      return directory_->Put(agent_id, Attester{registered->aik_tpm, "", true, std::nullopt});
    }
    if (!registered.ok() && registered.status().code() != StatusCode::kNotFound) return registered.status();
  }
  return directory_->Remove(agent_id);
}

Status AgentService::SetState(std::string_view agent_id, AgentState state) {
  if (!ValidName(agent_id)) return NotFound("unknown agent");
  auto updated = agents_->Update(agent_id, [state](VerifierAgent& a) {
    a.operational_state = state;
    return Status::Ok();
  });
  return updated.status();
}

Status AgentService::Reactivate(std::string_view agent_id) {
  auto agent = Get(agent_id);
  if (!agent.ok()) return agent.status();
  return SetState(agent_id, agent->push_model ? AgentState::kGetQuote : AgentState::kStart);
}

Status AgentService::Stop(std::string_view agent_id) { return SetState(agent_id, AgentState::kTenantFailed); }

Status AgentService::PutPolicy(PolicyKind kind, const NamedPolicy& policy, bool replace) {
  if (!ValidName(policy.name)) return InvalidArgument("a policy name must be 1 to 255 of [A-Za-z0-9._-]");
  if (kind == PolicyKind::kRuntime) {
    if (policy.body.empty()) return InvalidArgument("runtime_policy is required");
    auto decoded = Base64DecodeStd(policy.body);
    if (!decoded) return InvalidArgument("runtime_policy is not base64");
    if (Status st = ValidateJson(*decoded, "runtime_policy (decoded)"); !st.ok()) return st;
    if (!policy.tpm_policy.empty()) {
      if (Status st = ValidateTpmPolicy(policy.tpm_policy); !st.ok()) return st;
    }
  } else {
    if (policy.body.empty()) return InvalidArgument("mb_policy is required");
    if (Status st = ValidateJson(policy.body, "mb_policy"); !st.ok()) return st;
  }
  return replace ? policies_->Replace(kind, policy) : policies_->Create(kind, policy);
}

Result<NamedPolicy> AgentService::GetPolicy(PolicyKind kind, std::string_view name) {
  if (!ValidName(name)) return NotFound("no policy with this name");
  return policies_->Get(kind, name);
}

Status AgentService::DeletePolicy(PolicyKind kind, std::string_view name) {
  if (!ValidName(name)) return NotFound("no policy with this name");
  if (auto p = policies_->Get(kind, name); !p.ok()) return p.status();
  // An admin operation: reading every agent is acceptable here.
  auto ids = agents_->List();
  if (!ids.ok()) return ids.status();
  for (const std::string& id : *ids) {
    auto agent = agents_->Get(id);
    if (!agent.ok()) continue;  // deleted meanwhile
    const std::string& used = kind == PolicyKind::kRuntime ? agent->runtime_policy_name : agent->mb_policy_name;
    if (used == name) return Conflict("the policy is in use by agent " + id);
  }
  return policies_->Delete(kind, name);
}

Result<std::vector<std::string>> AgentService::ListPolicies(PolicyKind kind) { return policies_->List(kind); }

Result<Appraisal> AgentService::VerifyIdentity(const IdentityCheck& check) {
  auto agent = Get(check.agent_id);
  if (!agent.ok()) return agent.status();
  return AppraiseQuote(check.quote, check.nonce, check.hash_alg, agent->ak_tpm, "");
}

Result<Appraisal> AgentService::VerifyEvidence(const EvidenceCheck& request) {
  EvidenceCheck check = request;
  if (!check.ak_pem.empty()) {
    // A PEM key carries no TPM attributes: the caller vouches for it being
    // an AK, as it vouches for the key itself in this stateless check.
    auto tpm2b = tpm::Tpm2bPublicFromPem(check.ak_pem, tpm::kAkRequiredAttributes, TPM2_ALG_NULL, TPM2_ALG_NULL);
    if (!tpm2b.ok()) return InvalidArgument("tpm_ak: " + tpm2b.status().message());
    check.ak_tpm = std::move(*tpm2b);
  }
  if (Status st = ValidateAk(check.ak_tpm, "tpm_ak"); !st.ok()) return st;
  if (!check.tpm_policy.empty()) {
    if (Status st = ValidateTpmPolicy(check.tpm_policy); !st.ok()) return st;
  }
  auto appraisal = AppraiseQuote(check.quote, check.nonce, check.hash_alg, check.ak_tpm, check.tpm_policy);
  if (!appraisal.ok()) return appraisal;
  if (check.has_runtime_policy || check.has_ima_measurement_list) {
    *appraisal = WithFailure(std::move(*appraisal), kRuntimeUnavailable,
                             "runtime (IMA) policy appraisal is not implemented yet");
  }
  if (check.has_mb_policy || check.has_mb_log) {
    *appraisal = WithFailure(std::move(*appraisal), kMeasuredBootUnavailable,
                             "measured-boot policy appraisal is not implemented yet");
  }
  return appraisal;
}

void AgentService::set_verifier_address(std::string ip, int port) {
  std::lock_guard<std::mutex> lock(address_mu_);
  verifier_ip_ = std::move(ip);
  verifier_port_ = port;
}

std::string AgentService::verifier_ip() const {
  std::lock_guard<std::mutex> lock(address_mu_);
  return verifier_ip_;
}

int AgentService::verifier_port() const {
  std::lock_guard<std::mutex> lock(address_mu_);
  return verifier_port_;
}

}  // namespace attestd
