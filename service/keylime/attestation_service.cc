// Push-model (v3) attestation: capability negotiation, evidence through the
// session engine's queue, and outcomes recorded on the agent.
#include "service/keylime/attestation_service.h"

#include <algorithm>
#include <functional>
#include <set>

#include "common/base64.h"
#include "common/log.h"
#include "common/time_util.h"
#include "service/keylime/agent_evidence.h"
#include "service/keylime/agent_pcrs.h"
#include "service/keylime/keylime_rules.h"
#include "verifiers/tpm/ak.h"
#include "verifiers/tpm/evidence.h"
#include "verifiers/tpm/pcr_policy.h"
#include "verifiers/tpm/tpm_structures.h"

namespace attestd {

namespace {

Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }

constexpr size_t kChallengeBytes = 16;  // 128 bits, as Keylime's push verifier
// maximum_attestation_interval = quote_interval × this (Keylime's
// push_agent_monitor._TIMEOUT_MULTIPLIER).
constexpr int64_t kTimeoutMultiplier = 5;
// Signature schemes the TPM quote verifier checks.
const std::set<std::string> kSchemes = {"rsassa", "rsapss", "ecdsa"};

// The agent's accepted names (in its order, Keylime's priority) that the
// offer also has and `usable` allows, each once.
std::vector<std::string> Choices(const std::vector<std::string>& accepted,
                                 const std::vector<std::string>& offered,
                                 const std::function<bool(const std::string&)>& usable) {
  std::vector<std::string> out;
  for (const std::string& a : accepted) {
    if (std::find(offered.begin(), offered.end(), a) == offered.end() || !usable(a)) continue;
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& x) {
  return std::find(list.begin(), list.end(), x) != list.end();
}

// A certification key's algorithm: as offered, else that of its key.
std::string KeyAlgorithm(const CertificationKey& k, const std::string& enrolled_ak) {
  if (!k.key_algorithm.empty()) return k.key_algorithm;
  auto ak = tpm::ParseAk(enrolled_ak);
  if (!ak.ok()) return "";
  return (*ak)->type == TPM2_ALG_ECC ? "ecc" : "rsa";
}

// Chooses hash, scheme, PCRs and key from the offer into `att`, as
// Keylime's TPM engine does: the agent's accept lists intersected with the
// offer, in the agent's order; the key must be the enrolled AK (compared
// as a key: with or without its size prefix) and its algorithm must suit a
// chosen scheme; the key's allowable lists, when given, restrict both; the
// hash's PCR bank must hold every PCR the policy needs.
Status Negotiate(const VerifierAgent& agent, const TpmCapabilities& caps, PushAttestation* att) {
  if (caps.component_version != "2.0")
    return InvalidArgument("tpm_quote component_version must be 2.0");
  auto pcrs = AgentQuotePcrs(agent);
  if (!pcrs.ok()) return pcrs.status();
  auto covers = [&](const std::string& bank) {
    auto it = caps.available_subjects.find(bank);
    if (it == caps.available_subjects.end()) return false;
    return std::all_of(pcrs->begin(), pcrs->end(), [&](int p) {
      return std::find(it->second.begin(), it->second.end(), p) != it->second.end();
    });
  };
  std::vector<std::string> schemes =
      Choices(agent.accept_tpm_signing_algs, caps.signature_schemes,
              [](const std::string& s) { return kSchemes.count(s) > 0; });
  if (schemes.empty()) return InvalidArgument("no signature scheme both accepted and offered");
  std::vector<std::string> hashes =
      Choices(agent.accept_tpm_hash_algs, caps.hash_algorithms,
              [](const std::string& h) { return tpm::HashAlgByName(h) != nullptr; });
  if (hashes.empty()) return InvalidArgument("no hash algorithm both accepted and offered");
  auto key = std::find_if(
      caps.certification_keys.begin(), caps.certification_keys.end(),
      [&](const CertificationKey& k) { return keylime::SameAk(k.public_tpm2b, agent.ak_tpm); });
  if (key == caps.certification_keys.end())
    return InvalidArgument("the enrolled AK is not among the certification keys");
  std::string key_alg = KeyAlgorithm(*key, agent.ak_tpm);
  std::optional<std::string> scheme;
  for (const std::string& s : schemes) {
    if (keylime::SchemeKeyAlgorithm(s) != key_alg) continue;
    if (!key->allowable_signature_schemes.empty() && !Contains(key->allowable_signature_schemes, s))
      continue;
    scheme = s;
    break;
  }
  if (!scheme) {
    return InvalidArgument("no signature scheme both accepted and offered suits the " + key_alg +
                           " certification key");
  }
  std::optional<std::string> hash;
  for (const std::string& h : hashes) {
    if (!key->allowable_hash_algorithms.empty() && !Contains(key->allowable_hash_algorithms, h))
      continue;
    if (!covers(h)) continue;
    hash = h;
    break;
  }
  if (!hash)
    return InvalidArgument("no hash algorithm both accepted and offered covers the policy's PCRs");
  att->hash_algorithm = *hash;
  att->signature_scheme = *scheme;
  att->selected_pcrs = *pcrs;
  att->certification_key = *key;
  return Status::Ok();
}

bool Open(const PushAttestation& a, int64_t now_ms) {
  return a.stage == "evaluating_evidence" ||
         (a.stage == "awaiting_evidence" && now_ms < a.challenges_expire_at_ms);
}

PushAttestation* Find(VerifierAgent& agent, std::optional<int64_t> index) {
  if (agent.attestations.empty()) return nullptr;
  if (!index) return &agent.attestations.back();
  for (PushAttestation& a : agent.attestations) {
    if (a.index == *index) return &a;
  }
  return nullptr;
}

// The appraisal's verdict and failures from a finished session.
struct Verdict {
  bool valid = false;
  std::vector<Failure> failures;
  std::string first_failure;
};

Verdict ReadVerdict(const Session& session) {
  Verdict v;
  if (session.state != SessionState::kComplete || !session.result) {
    v.failures.push_back(Failure{
        "appraisal.error", Value::MakeMap({{"reason", "the evidence could not be appraised"}})});
    v.first_failure = "appraisal.error";
    return v;
  }
  v.valid = session.result->appraisal.is_valid;
  v.failures = session.result->appraisal.failures;
  if (!v.failures.empty()) v.first_failure = v.failures.front().type;
  return v;
}

}  // namespace

AttestationService::AttestationService(std::shared_ptr<AgentStore> agents,
                                       std::shared_ptr<SessionService> sessions,
                                       AttestationOptions options)
    : agents_(std::move(agents)), sessions_(std::move(sessions)), options_(options) {
  // The session engine outlives no AttestationService it calls: the
  // Application owns both and stops the workers before either is destroyed.
  if (sessions_) sessions_->set_on_finished([this](const Session& s) { OnSessionFinished(s); });
}

Result<VerifierAgent> AttestationService::Agent(std::string_view agent_id) {
  if (!keylime::ValidName(agent_id)) return NotFound("unknown agent");
  return agents_->Get(agent_id);
}

Result<PushAttestation> AttestationService::Begin(std::string_view agent_id,
                                                  const TpmCapabilities& caps,
                                                  int64_t* retry_after_s) {
  *retry_after_s = 0;
  auto agent = Reconciled(agent_id);
  if (!agent.ok()) return agent.status();
  if (!agent->push_model) return PermissionDenied("the agent is not enrolled in push mode");
  if (agent->operational_state == AgentState::kTenantFailed)
    return PermissionDenied("the agent is stopped");
  PushAttestation att;
  if (Status st = Negotiate(*agent, caps, &att); !st.ok()) return st;
  auto session = sessions_->Create(std::nullopt, kChallengeBytes, std::string(agent_id));
  if (!session.ok()) return session.status();
  int64_t now = NowMillis();
  att.session_id = session->id;
  att.challenge = Base64Encode(session->nonce);
  att.capabilities_received_at_ms = now;
  att.challenges_expire_at_ms = session->expiry_ms;
  int64_t interval_ms = options_.quote_interval_s * 1000;
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& a) {
    if (!a.attestations.empty()) {
      const PushAttestation& last = a.attestations.back();
      if (Open(last, now)) return Conflict("an attestation is in progress");
      int64_t wait_ms = last.capabilities_received_at_ms + interval_ms - now;
      if (wait_ms > 0) {
        *retry_after_s = (wait_ms + 999) / 1000;
        return Status(StatusCode::kResourceExhausted, "too early: wait for the quote interval");
      }
    }
    att.index = a.next_attestation_index++;
    a.attestations.push_back(att);
    if (a.attestations.size() > kKeptAttestations) a.attestations.erase(a.attestations.begin());
    return Status::Ok();
  });
  if (!updated.ok()) {
    (void)sessions_->Delete(session->id);
    return updated.status();
  }
  return updated->attestations.back();
}

Result<PushAttestation> AttestationService::Submit(std::string_view agent_id,
                                                   std::optional<int64_t> index,
                                                   const QuoteSubmission& submission) {
  auto agent = Agent(agent_id);
  if (!agent.ok()) return agent.status();
  PushAttestation* att = Find(*agent, index);
  if (!att) return NotFound("no such attestation");
  if (att->stage != "awaiting_evidence") return PermissionDenied("evidence was already received");
  if (NowMillis() >= att->challenges_expire_at_ms) return PermissionDenied("the challenge expired");
  AgentEvidence evidence;
  tpm::QuotePartsEvidence& parts = evidence.quote;
  parts.agent_id = std::string(agent_id);
  parts.attest = submission.message;
  parts.signature = submission.signature;
  parts.pcrblob = submission.subject_data;
  parts.hash_alg = att->hash_algorithm;
  evidence.logs.ima_list = submission.ima_log;
  evidence.logs.ima_first_entry = submission.ima_offset;
  evidence.logs.boot_log = submission.uefi_log;
  // The session store's waiting → processing step admits one submission.
  SubmitOptions options;
  options.respond_async = true;
  auto outcome = sessions_->Submit(att->session_id, kAgentEvidenceType,
                                   EncodeAgentEvidence(evidence), options);
  if (!outcome.ok()) {
    StatusCode c = outcome.status().code();
    if (c == StatusCode::kConflict) return PermissionDenied("evidence was already received");
    if (c == StatusCode::kNotFound) return PermissionDenied("the challenge expired");
    return outcome.status();
  }
  int64_t index_value = att->index;
  int64_t now = NowMillis();
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& a) {
    PushAttestation* p = Find(a, index_value);
    if (!p) return NotFound("the attestation was forgotten meanwhile");
    if (p->stage == "awaiting_evidence") {  // a fast worker may have finished it already
      p->stage = "evaluating_evidence";
    }
    p->evidence_received_at_ms = now;
    a.last_received_quote_s = now / 1000;
    a.hash_alg = p->hash_algorithm;
    a.sign_alg = p->signature_scheme;
    return Status::Ok();
  });
  if (!updated.ok()) return updated.status();
  return *Find(*updated, index_value);
}

Result<std::vector<PushAttestation>> AttestationService::List(std::string_view agent_id) {
  auto agent = Reconciled(agent_id);
  if (!agent.ok()) return agent.status();
  return agent->attestations;
}

Result<PushAttestation> AttestationService::Get(std::string_view agent_id,
                                                std::optional<int64_t> index) {
  auto agent = Reconciled(agent_id);
  if (!agent.ok()) return agent.status();
  PushAttestation* att = Find(*agent, index);
  if (!att) return NotFound("no such attestation");
  return *att;
}

int64_t AttestationService::SecondsToNextAttestation(std::string_view agent_id) {
  auto agent = Agent(agent_id);
  if (!agent.ok() || agent->attestations.empty()) return 0;
  int64_t wait_ms = agent->attestations.back().capabilities_received_at_ms +
                    options_.quote_interval_s * 1000 - NowMillis();
  return wait_ms > 0 ? (wait_ms + 999) / 1000 : 0;
}

int64_t AttestationService::MaximumAttestationIntervalS() const {
  return options_.quote_interval_s * kTimeoutMultiplier;
}

std::string AttestationService::AttestationStatus(const VerifierAgent& agent,
                                                  int64_t now_ms) const {
  int64_t max_s = MaximumAttestationIntervalS();
  if (!agent.push_model || max_s <= 0 || agent.attestation_status == "FAIL") {
    return agent.attestation_status;
  }
  int64_t since_ms =
      agent.last_received_quote_s > 0 ? agent.last_received_quote_s * 1000 : agent.created_at_ms;
  if (since_ms > 0 && now_ms - since_ms > max_s * 1000) return "TIMEOUT";
  return agent.attestation_status;
}

Result<VerifierAgent> AttestationService::Reconciled(std::string_view agent_id) {
  auto agent = Agent(agent_id);
  if (!agent.ok()) return agent;
  std::vector<Session> finished;
  for (const PushAttestation& a : agent->attestations) {
    if (a.stage != "evaluating_evidence") continue;
    auto session = sessions_->Get(a.session_id);
    if (session.ok() && session->state == SessionState::kProcessing) continue;
    if (session.ok()) {
      finished.push_back(std::move(*session));
    } else {
      // The session expired before anyone recorded its outcome.
      Session expired;
      expired.id = a.session_id;
      expired.state = SessionState::kFailed;
      finished.push_back(std::move(expired));
    }
  }
  if (finished.empty()) return agent;
  auto updated = agents_->Update(agent_id, [&](VerifierAgent& ag) {
    for (const Session& s : finished) ApplyOutcome(ag, s);
    return Status::Ok();
  });
  // Recording is best effort here: the outcome is recorded at the next read.
  return updated.ok() ? updated : agent;
}

void AttestationService::OnSessionFinished(const Session& session) {
  if (session.agent_id.empty() || !keylime::ValidName(session.agent_id)) return;
  auto updated = agents_->Update(session.agent_id, [&](VerifierAgent& a) {
    return ApplyOutcome(a, session) ? Status::Ok()
                                    : NotFound("not a push attestation of this agent");
  });
  if (!updated.ok() && updated.status().code() != StatusCode::kNotFound) {
    LogWarn(
        "verifier: could not record a push attestation's outcome; it is recorded when next read",
        {{"agent_id", session.agent_id}, {"error", updated.status().message()}});
  }
}

bool AttestationService::ApplyOutcome(VerifierAgent& agent, const Session& session) const {
  auto it = std::find_if(agent.attestations.begin(), agent.attestations.end(),
                         [&](const PushAttestation& a) { return a.session_id == session.id; });
  if (it == agent.attestations.end() || it->stage == "verification_complete") return false;
  Verdict v = ReadVerdict(session);
  int64_t now = NowMillis();
  it->stage = "verification_complete";
  it->evaluation = v.valid ? "pass" : "fail";
  it->failure_reason = v.first_failure;
  it->failures = std::move(v.failures);
  it->verification_completed_at_ms = now;
  ++agent.attestation_count;
  agent.attestation_status = v.valid ? "PASS" : "FAIL";
  if (v.valid) agent.last_successful_attestation_s = now / 1000;
  // A token keeps working while its agent keeps passing.
  if (v.valid && !agent.token_hash.empty()) {
    agent.token_expires_at_ms =
        std::max(agent.token_expires_at_ms, now + options_.token_ttl_s * 1000);
  }
  if (!v.valid) agent.last_event_id = v.first_failure;
  return true;
}

}  // namespace attestd
